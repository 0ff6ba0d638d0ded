"""Turning JSON weight lists into float64 arrays of the expected shape, or a clear ModelError."""

from __future__ import annotations

import numpy as np

from .errors import ModelError


def _array(value, what: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{what}: not a regular array of numbers") from None
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{what}: holds NaN or Inf")
    return a


def shaped(value, shape: tuple, what: str) -> np.ndarray:
    """``value`` as an array of ``shape`` (None: any size on that axis)."""
    a = _array(value, what)
    if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape, strict=True)):
        want = "x".join("?" if s is None else str(s) for s in shape)
        raise ModelError(f"{what}: shape {'x'.join(map(str, a.shape))}, expected {want}")
    return a


def matrix(value, shape: tuple, what: str) -> np.ndarray:
    return np.ascontiguousarray(shaped(value, shape, what))


def vector(value, size: int, what: str) -> np.ndarray:
    return np.ascontiguousarray(shaped(value, (size,), what))
