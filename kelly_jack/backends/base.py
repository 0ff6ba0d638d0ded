"""The backend contract, its error type, a base class, and the adapter for plain callables.

A backend is what a backend factory returns (see ``kelly_jack.hookspecs``):

* ``name``, ``input_size`` (128 features) and ``output_size`` (64 emotion values);
* ``infer(x) -> y``: one float32 vector in, ``output_size`` floats out;
* ``infer_block(X) -> Y``: rows of X are consecutive steps; a streaming model
  processes them in order, carrying its state, as if ``infer`` were called per row;
* ``reset()``: forget streaming state;
* ``metadata``: a dict with at least ``name`` and ``layout_version`` (the feature
  layout the model was trained on, None if it does not say), and
  ``emotion_mapping`` (a 3x64 valence/arousal/dominance matrix, or None for
  the default 8x8 grid centroid).

``infer`` may raise or return non-finite values: the inference thread drops
and counts those. Loading must not: every problem is a ``BackendError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import KellyError

FEATURES = 128
EMOTIONS = 64


def softmax(logits: np.ndarray) -> np.ndarray:
    """The probabilities of the emotion grid's cells from a backend's logits, along the last axis."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class BackendError(KellyError):
    """A backend could not be created or loaded; ``str()`` is one line for the user.

    ``key`` names the option of the backend block at fault ("name" for an
    unknown backend, None when no single option is); ``KellyError`` carries it.
    """


class BackendBase:
    """Defaults for the contract: per-row ``infer_block``, no state, minimal metadata."""

    name = "backend"
    input_size = FEATURES
    output_size = EMOTIONS
    layout_version: int | None = None

    def infer(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def infer_block(self, block: np.ndarray) -> np.ndarray:
        """Rows of ``block`` as consecutive steps."""
        rows = np.asarray(block, dtype=np.float32).reshape(-1, self.input_size)
        return (
            np.stack([np.asarray(self.infer(row), dtype=np.float32) for row in rows])
            if len(rows)
            else (np.zeros((0, self.output_size), dtype=np.float32))
        )

    def reset(self) -> None:
        pass

    @property
    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "layout_version": self.layout_version, "emotion_mapping": None}


class FunctionBackend(BackendBase):
    """Any callable ``features -> emotion`` as a backend (the seed's setInferenceFunction)."""

    def __init__(self, fn: Callable[[np.ndarray], Any], name: str = "function"):
        if not callable(fn):
            raise BackendError(f"backend {name!r}: {fn!r} is not callable")
        self._fn = fn
        self.name = name

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._fn(features)


def check_layout_version(backend: BackendBase, model: str | None, expected: int) -> None:
    """Raise BackendError (key "model") if ``backend``'s model was trained on another feature layout.

    A model that does not say (``layout_version`` None) is accepted.
    """
    version = backend.metadata.get("layout_version")
    if version is not None and int(version) != expected:
        what = f"model {model}" if model else "the model"
        raise BackendError(
            f"backend {backend.name!r}: {what} was trained on feature layout {version}, "
            f"but kelly-jack computes feature layout {expected}; retrain or convert the model",
            "model" if model else None,
        )


def take_options(backend: str, options: dict[str, Any], spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    """Check ``options`` against ``spec`` (key -> (type, default)); raises BackendError.

    ints are accepted where floats are expected; bools are never numbers. A
    default of ``...`` makes the option required.
    """
    out = {}
    for key in options:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise BackendError(f"backend {backend!r}: unknown option backend.{key} (options: {known})", key)
    for key, (kind, default) in spec.items():
        if key not in options and default is ...:
            raise BackendError(f"backend {backend!r}: backend.{key} is required", key)
        value = options.get(key, default)
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise BackendError(f"backend {backend!r}: backend.{key} must be {kind.__name__}, got {value!r}", key)
        out[key] = value
    return out
