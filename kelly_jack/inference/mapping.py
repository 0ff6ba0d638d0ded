"""Which mapping turns the model's 64 values into valence/arousal: the grid centroid or the model's own.

``emotion.mapping`` in the config: ``auto`` (the model's learned 3x64
valence/arousal/dominance matrix when its metadata ships one, else the 8x8
grid centroid), ``centroid``, or ``learned`` (an error when the model has
none). A backend whose ``output_kind`` is ``valence_arousal`` says valence and
arousal itself: no mapping (``learned`` is an error). Main thread, at start.
"""

from __future__ import annotations

import numpy as np

from ..errors import KellyError


class MappingError(KellyError, ValueError):
    """``learned`` was asked of a model that ships no mapping."""


def emotion_mapping(choice: str, backend) -> np.ndarray | None:
    """The 3x64 matrix to map with, or None for the grid centroid; raises MappingError."""
    if getattr(backend, "output_kind", "grid") == "valence_arousal":
        if choice == "learned":
            name = getattr(backend, "name", "?")
            raise MappingError(f"backend {name!r} gives valence and arousal, not a grid to map")
        return None
    meta = getattr(backend, "metadata", None) or {}
    matrix = meta.get("emotion_mapping")
    if choice == "centroid" or (choice == "auto" and matrix is None):
        return None
    if matrix is None:
        raise MappingError(f"the model of backend {getattr(backend, 'name', '?')!r} ships no learned mapping")
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).reshape(3, 64))
