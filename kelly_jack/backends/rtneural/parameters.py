"""Counting a layer's trained parameters (weights and biases, not its streaming state)."""

from __future__ import annotations

import numpy as np

STATE = ("history", "h", "c")  # arrays layers keep between steps, not parameters


def count_parameters(layer) -> int:
    """``layer.parameter_count()`` if the layer defines it (layers wrapping others), else its float arrays."""
    if hasattr(layer, "parameter_count"):
        return int(layer.parameter_count())
    return int(sum(a.size for name, a in vars(layer).items() if isinstance(a, np.ndarray) and name not in STATE))
