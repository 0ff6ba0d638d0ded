"""Run inside the peer venv (VibeNet installed), never imported by kelly-jack: VibeNet's valence and energy of WAVs.

Reads ``{key: wav path}`` as JSON on stdin; prints one JSON line ``{key: {"valence": v, "energy": e}}``
(VibeNet's 0..1 descriptors). Only the standard library, soundfile and vibenet are used; the model's
weights are the ONNX file inside the vibenet wheel. Exit 1 with one line on stderr naming the file.
"""

import json
import sys


def main() -> int:
    import soundfile as sf
    from vibenet import load_model

    todo = json.loads(sys.stdin.read())
    model = load_model()
    out = {}
    for key, path in todo.items():
        try:
            x, rate = sf.read(path, dtype="float32", always_2d=True)
        except Exception as e:  # noqa: BLE001 - one line naming the file is the contract
            print(f"{path}: cannot read it ({e})", file=sys.stderr)
            return 1
        r = model.predict(x.mean(axis=1), sr=rate)[0]
        out[key] = {"valence": float(r.valence), "energy": float(r.energy)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
