"""Valence and arousal of variant WAVs: kelly's model files through the project's own path, and VibeNet as a peer.

* ``KellyMeasure(model, cache)``: features from ``features.clip_features`` (the live
  extractor, fresh state per file), logits from the model's real backend
  (``evaluate.load_backend``: onnx or rtneural), valence/arousal per hop as the grid
  centroid (kelly's default ``emotion.mapping``). A file's value is the mean over the hops
  whose window ends at or after ``WARMUP_SECONDS`` (8 s: the longest history a layout-4 feature
  keeps, the key over 8 s, is full from there). Features are cached per layout
  (``cache/features-<excerpt version>-L<layout>/``) and values per model file, excerpt version and
  layout (``cache/results/<sha256>-...json``), so measuring a second model only runs inference. A
  feature change that keeps the layout number needs ``refresh`` (``--refresh``).
* ``VibeNetPeer(venv, cache)``: VibeNet (pip ``vibenet``, GPL-3.0) in its own virtualenv, never
  imported here: ``_vibenet_helper.py`` runs in that venv's Python, reads the WAVs and prints
  JSON (valence and energy on 0..1). The wheel carries its ONNX weights
  (``vibenet/artifacts/efficientnet_model.onnx``); nothing is downloaded at run time. It
  takes a whole file (a mel spectrogram at 16 kHz, resampled by VibeNet itself with soxr).
  It is a measured peer only: never a kelly-jack dependency, never a source of labels.

Errors are ``RecordedError`` (one line naming the file, model or tool).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..backends.base import BackendError
from ..io import atomic_write
from .evaluate import load_backend
from .features import ANALYSIS_RATE, HOP, WINDOW, clip_features, layout_version
from .mlp import centroid
from .recorded import EXCERPT_VERSION, RecordedError

WARMUP_SECONDS = 8.0
HELPER = Path(__file__).with_name("_vibenet_helper.py")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def warmup_hops() -> int:
    """Index of the first hop whose window ends at or after WARMUP_SECONDS."""
    return max(0, math.ceil((WARMUP_SECONDS * ANALYSIS_RATE - WINDOW) / HOP))


def read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise RecordedError(f"{path}: soundfile cannot read it ({e})") from None
    if rate != ANALYSIS_RATE:
        raise RecordedError(f"{path}: {rate} Hz, expected {ANALYSIS_RATE}")
    return x.mean(axis=1)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}  # unreadable cache: measure again and overwrite


class KellyMeasure:
    """``self(key, wav) -> (valence, arousal)``: a model file's post-warm-up mean; ``save()`` keeps the values."""

    def __init__(self, model: str | Path, cache: Path, refresh: bool = False):
        self.model = str(model)
        try:
            self.sha256 = file_sha256(model)
            self.backend = load_backend(model)
        except (OSError, BackendError) as e:
            raise RecordedError(f"model {model}: {e}") from None
        self.features_dir = cache / f"features-{EXCERPT_VERSION}-L{layout_version()}"
        self.refresh = refresh
        self.results_path = (
            cache / "results" / f"{self.sha256}-{EXCERPT_VERSION}-L{layout_version()}-warmup{WARMUP_SECONDS:g}.json"
        )
        self.values: dict[str, list[float]] = {} if refresh else _load_json(self.results_path)

    def features(self, key: str, wav: Path) -> np.ndarray:
        path = self.features_dir / f"{key}.npy"
        if path.is_file() and not self.refresh:
            try:
                return np.load(path)
            except (OSError, ValueError):
                pass
        frames = clip_features(read_wav(wav), ANALYSIS_RATE)
        buf = io.BytesIO()
        np.save(buf, frames)
        atomic_write(path, buf.getvalue())
        return frames

    def __call__(self, key: str, wav: Path) -> tuple[float, float]:
        if key not in self.values:
            frames = self.features(key, wav)
            start = warmup_hops()
            if len(frames) <= start:
                raise RecordedError(f"{wav}: {len(frames)} hops, none after the {WARMUP_SECONDS:g} s warm-up")
            self.backend.reset()
            logits = np.asarray(self.backend.infer_block(frames), dtype=np.float64)
            va = centroid(logits)[start:].mean(axis=0)
            self.values[key] = [float(va[0]), float(va[1])]
        v, a = self.values[key]
        return v, a

    def save(self) -> None:
        atomic_write(self.results_path, (json.dumps(self.values, indent=0, sort_keys=True) + "\n").encode())


class VibeNetPeer:
    """VibeNet in its own venv: ``ensure()`` creates it (``python -m venv``, ``pip install vibenet``) when missing;
    ``measure({key: wav}) -> {key: (valence, energy)}``, cached in ``cache/results/vibenet-<version>-...json``."""

    def __init__(self, venv: Path, cache: Path, refresh: bool = False):
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.cache = cache
        self.refresh = refresh
        self.version = ""

    def ensure(self, log=print) -> None:
        if not self.python.is_file():
            log(f"peer: creating {self.venv} and installing vibenet (PyPI)")
            for cmd in (
                [_base_python(), "-m", "venv", str(self.venv)],
                [str(self.python), "-m", "pip", "install", "-q", "vibenet"],
            ):
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    last = (out.stderr or out.stdout).strip().splitlines()
                    raise RecordedError(
                        f"peer venv {self.venv}: {' '.join(cmd[:4])} failed: {last[-1] if last else ''}"
                    )
        out = subprocess.run(
            [str(self.python), "-c", "import importlib.metadata as m; print(m.version('vibenet'))"],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RecordedError(
                f"peer venv {self.venv}: vibenet is not importable there (pip install vibenet, or --no-peer)"
            )
        self.version = out.stdout.strip()

    def measure(self, wavs: dict[str, Path]) -> dict[str, tuple[float, float]]:
        path = self.cache / "results" / f"vibenet-{self.version}-{EXCERPT_VERSION}.json"
        values = {} if self.refresh else _load_json(path)
        todo = {k: str(p) for k, p in wavs.items() if k not in values}
        if todo:
            out = subprocess.run(
                [str(self.python), str(HELPER)], input=json.dumps(todo), capture_output=True, text=True
            )
            if out.returncode != 0:
                last = out.stderr.strip().splitlines()
                raise RecordedError(f"peer {HELPER.name}: {last[-1] if last else 'exit ' + str(out.returncode)}")
            try:
                got = json.loads(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise RecordedError(f"peer {HELPER.name}: printed no JSON result") from None
            values.update({k: [float(got[k]["valence"]), float(got[k]["energy"])] for k in todo})
            atomic_write(path, (json.dumps(values, indent=0, sort_keys=True) + "\n").encode())
        return {k: (values[k][0], values[k][1]) for k in wavs}


def _base_python() -> str:
    """The interpreter the peer venv is made from: the base Python, not this (kelly-jack) venv's."""
    return str(Path(sys.base_prefix) / "bin" / "python3")
