"""``batchnorm``: y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel.

Weights: ``[gamma, beta, mean, var]`` (affine) or ``[mean, var]`` (Keras
``center=False, scale=False``); anything else is refused rather than guessed.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .weights import vector


class BatchNorm:
    def __init__(self, spec: dict, where: str, in_size: int):
        weights = spec.get("weights", [])
        eps = spec.get("epsilon")
        if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 <= eps < float("inf"):
            raise ModelError(f"{where}: missing or bad 'epsilon' ({eps!r})")
        arrays = [vector(w, in_size, f"{where}: weights[{i}]") for i, w in enumerate(weights)]
        if len(arrays) == 4:
            gamma, beta, mean, var = arrays
        elif len(arrays) == 2:
            mean, var = arrays
            gamma, beta = np.ones(in_size), np.zeros(in_size)
        else:
            raise ModelError(f"{where}: expected 4 (gamma, beta, mean, var) or 2 (mean, var) arrays, got {len(arrays)}")
        if not np.all(var + eps > 0):  # the square root below must be of a positive number
            raise ModelError(f"{where}: the variance plus epsilon must be positive, got {np.min(var + eps)!r}")
        self.scale = gamma / np.sqrt(var + eps)
        self.shift = beta - mean * self.scale
        self.out_size = in_size

    def reset(self) -> None:
        pass

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift
