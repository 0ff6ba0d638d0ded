"""The backend protocol, its error type, and the adapter for plain callables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

FEATURES = 128
EMOTIONS = 64


class BackendError(Exception):
    """A backend could not be created or loaded; ``str()`` is one line for the user.

    ``key`` names the option of the backend block at fault ("name" for an
    unknown backend, None when no single option is).
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class Backend(Protocol):
    """What the inference thread needs of a model."""

    name: str
    input_size: int
    output_size: int

    def infer(self, features: np.ndarray) -> np.ndarray:
        """64 emotion logits for one 128-float feature vector (inference thread)."""

    def reset(self) -> None:
        """Forget streaming state."""


class FunctionBackend:
    """Any callable ``features -> emotion`` as a backend (the seed's setInferenceFunction)."""

    input_size = FEATURES
    output_size = EMOTIONS

    def __init__(self, fn: Callable[[np.ndarray], Any], name: str = "function"):
        if not callable(fn):
            raise BackendError(f"backend {name!r}: {fn!r} is not callable")
        self._fn = fn
        self.name = name

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._fn(features)

    def reset(self) -> None:
        pass


def take_options(backend: str, options: dict[str, Any], spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    """Check ``options`` against ``spec`` (key -> (type, default)); raises BackendError.

    ints are accepted where floats are expected; bools are never numbers.
    """
    out = {}
    for key in options:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise BackendError(f"backend {backend!r}: unknown option backend.{key} (options: {known})", key)
    for key, (kind, default) in spec.items():
        value = options.get(key, default)
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise BackendError(f"backend {backend!r}: backend.{key} must be {kind.__name__}, got {value!r}", key)
        out[key] = value
    return out
