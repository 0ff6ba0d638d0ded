#!/usr/bin/env python3
"""Write the TFLite models the repository carries, from RTNeural JSON (no TensorFlow: ai-edge-litert's schema).

    .venv/bin/python scripts/make_tflite_models.py [--check]

* ``models/emotion.tflite``: the shipped model (``models/emotion.rtneural.json``) for the tflite
  backend, with its ``kelly_jack.*`` metadata;
* ``tests/data/tflite/dense.tflite``: one dense layer, 128 -> 64, tanh (seeded random weights);
* ``tests/data/tflite/gru.tflite``: dense 128 -> 8 (tanh), GRU 8 -> 4, dense 4 -> 64 (seeded);
* ``tests/data/tflite/wide_input.tflite``: dense 100 -> 64, which the backend must refuse.

The writer (``kelly_jack/backends/tflite/writer.py``) gives the same bytes for the same input, so
``--check`` (run by the tests) fails when a committed file differs from what this script writes.
Exit 1 on a stale file with ``--check``, 2 with one line on a problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from kelly_jack.backends.tflite.writer import tflite_bytes
from kelly_jack.io import atomic_write

REPO = Path(__file__).resolve().parent.parent


def _dense(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> dict:
    w = rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out))
    return {"type": "dense", "activation": activation, "weights": [w.tolist(), rng.normal(0, 0.1, n_out).tolist()]}


def _gru(rng: np.random.Generator, n_in: int, units: int) -> dict:
    k = rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, 3 * units))
    r = rng.normal(0.0, 1.0 / np.sqrt(units), (units, 3 * units))
    b = rng.normal(0.0, 0.1, (2, 3 * units))
    return {"type": "gru", "activation": "tanh", "weights": [k.tolist(), r.tolist(), b.tolist()]}


def documents() -> dict[Path, dict]:
    """Each file this script writes -> the RTNeural document it is made from."""
    rng = np.random.default_rng(2026)
    shipped = json.loads((REPO / "models" / "emotion.rtneural.json").read_text())
    tests = REPO / "tests" / "data" / "tflite"
    return {
        REPO / "models" / "emotion.tflite": shipped,
        tests / "dense.tflite": {"layers": [_dense(rng, 128, 64, "tanh")], "kelly_jack.layout_version": 5},
        tests / "gru.tflite": {"layers": [_dense(rng, 128, 8, "tanh"), _gru(rng, 8, 4), _dense(rng, 4, 64, "")]},
        tests / "wide_input.tflite": {"layers": [_dense(rng, 100, 64, "")]},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file is stale")
    args = ap.parse_args(argv)
    try:
        made = {path: tflite_bytes(doc) for path, doc in documents().items()}
    except (OSError, ValueError, ImportError) as e:
        print(f"make_tflite_models: {e}", file=sys.stderr)
        return 2
    stale = [p for p, data in made.items() if not p.is_file() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"make_tflite_models: {p.relative_to(REPO)} differs from what the script writes", file=sys.stderr)
        return 1 if stale else 0
    for path, data in made.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        print(f"{path.relative_to(REPO)}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
