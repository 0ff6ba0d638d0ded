"""Stub backends for tests, demos and debugging. None of them is a trained model.

* ``constant``: always the logits whose grid centroid is (valence, arousal);
* ``echo``: the first 64 features, as logits;
* ``random``: seeded Gaussian logits;
* ``slow``: ``constant`` after sleeping ``delay_ms`` (releases the GIL);
* ``failing``: raises ``RuntimeError`` (or returns NaN with ``mode: nan``) on every
  ``every``-th call, else ``constant``;
* ``heuristic``: not ML: arousal from loudness (RMS -50..-10 dBFS), valence
  from brightness (spectral centroid 0..1440 Hz, the zero-crossing rate
  0..0.06 of a tone at 48 kHz), reading the current layout.
  A transparent, model-free reference for tests and for comparing a model against.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..hookspecs import BackendFactory, hookimpl
from ..rt.emotion import logits_for
from ..rt.features import layout
from .base import EMOTIONS, BackendBase, BackendError, take_options


class _Stub(BackendBase):
    """Stubs read the current feature layout (heuristic) or none at all."""


class ConstantBackend(_Stub):
    """Stub: the logits whose grid centroid is (valence, arousal)."""

    name = "constant"
    spec = {"valence": (float, 0.0), "arousal": (float, 0.0)}

    def __init__(self, options: dict[str, Any]):
        o = take_options(self.name, options, self.spec)
        for key in ("valence", "arousal"):
            if not -1.0 <= o[key] <= 1.0:
                raise BackendError(f"backend {self.name!r}: backend.{key} must be in -1..1, got {o[key]}", key)
        self._logits = logits_for(o["valence"], o["arousal"])

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._logits


class EchoBackend(_Stub):
    """Stub: the first 64 features as logits."""

    name = "echo"

    def __init__(self, options: dict[str, Any]):
        take_options(self.name, options, {})

    def infer(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features[:EMOTIONS], dtype=np.float32)


class RandomBackend(_Stub):
    """Stub: seeded Gaussian logits."""

    name = "random"
    spec = {"seed": (int, 0), "scale": (float, 2.0)}

    def __init__(self, options: dict[str, Any]):
        o = take_options(self.name, options, self.spec)
        self._seed = o["seed"]
        self._scale = o["scale"]
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self._seed)

    def infer(self, features: np.ndarray) -> np.ndarray:
        return (self._rng.standard_normal(EMOTIONS) * self._scale).astype(np.float32)


class SlowBackend(ConstantBackend):
    """Stub: constant after sleeping delay_ms (releases the GIL)."""

    name = "slow"
    spec = {**ConstantBackend.spec, "delay_ms": (float, 100.0)}

    def __init__(self, options: dict[str, Any]):
        o = take_options(self.name, options, self.spec)
        if o["delay_ms"] < 0:
            raise BackendError(f"backend {self.name!r}: backend.delay_ms must be >= 0", "delay_ms")
        super().__init__({k: o[k] for k in ConstantBackend.spec})
        self._delay = o["delay_ms"] / 1000.0

    def infer(self, features: np.ndarray) -> np.ndarray:
        time.sleep(self._delay)
        return self._logits


class FailingBackend(ConstantBackend):
    """Stub: raises (or returns NaN) on every every-th call."""

    name = "failing"
    spec = {**ConstantBackend.spec, "every": (int, 1), "mode": (str, "raise")}

    def __init__(self, options: dict[str, Any]):
        o = take_options(self.name, options, self.spec)
        if o["every"] < 1:
            raise BackendError(f"backend {self.name!r}: backend.every must be >= 1", "every")
        if o["mode"] not in ("raise", "nan"):
            raise BackendError(f"backend {self.name!r}: backend.mode must be 'raise' or 'nan'", "mode")
        super().__init__({k: o[k] for k in ConstantBackend.spec})
        self._every = o["every"]
        self._mode = o["mode"]
        self._calls = 0

    def infer(self, features: np.ndarray) -> np.ndarray:
        self._calls += 1
        if self._calls % self._every == 0:
            if self._mode == "nan":
                return np.full(EMOTIONS, np.nan, dtype=np.float32)
            raise RuntimeError(f"failing backend: deliberate failure on call {self._calls}")
        return self._logits


class HeuristicBackend(_Stub):
    """Not ML: relative loudness -> arousal, brightness -> valence (the layout's level_db and centroid_hz)."""

    layout_version = layout.LAYOUT_VERSION

    name = "heuristic"

    def __init__(self, options: dict[str, Any]):
        take_options(self.name, options, {})

    def infer(self, features: np.ndarray) -> np.ndarray:
        db, centroid_hz = float(features[layout.LEVEL_DB]), float(features[layout.CENTROID])
        arousal = (db + 10.0) / 10.0  # level_db is relative to the level reference: -20 dB -> -1, at it -> +1
        valence = (centroid_hz - 720.0) / 720.0  # 0 -> -1, 1440 Hz (a tone crossing zero 0.06 a sample) -> +1
        if not (math.isfinite(arousal) and math.isfinite(valence)):
            arousal = valence = 0.0
        return logits_for(max(-1.0, min(1.0, valence)), max(-1.0, min(1.0, arousal)))


STUBS = (ConstantBackend, EchoBackend, RandomBackend, SlowBackend, FailingBackend, HeuristicBackend)


@hookimpl
def kelly_jack_backends() -> list[BackendFactory]:
    return [BackendFactory(cls.name, cls, (cls.__doc__ or "").strip().splitlines()[0]) for cls in STUBS]
