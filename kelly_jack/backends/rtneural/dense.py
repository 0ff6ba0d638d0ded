"""``dense`` and ``time-distributed-dense``: y = x @ W (+ b), then the layer's activation.

Weights: ``[W (in x out)]`` or ``[W, b (out)]`` (Keras kernels; a layer
without bias has only the kernel).
"""

from __future__ import annotations

import numba
import numpy as np

from .activation import apply, code_of
from .errors import ModelError
from .weights import matrix, vector


@numba.njit(nogil=True, cache=True)
def dense_block(x, w, b, out):
    steps, n_in = x.shape
    n_out = w.shape[1]
    for t in range(steps):
        out[t, :] = b
        for i in range(n_in):  # row by row: contiguous, so the inner loop vectorises
            xi = x[t, i]
            for o in range(n_out):
                out[t, o] += xi * w[i, o]


class Dense:
    def __init__(self, spec: dict, where: str, in_size: int):
        weights = spec.get("weights", [])
        if len(weights) not in (1, 2):
            raise ModelError(f"{where}: expected [kernel] or [kernel, bias] weights, got {len(weights)} arrays")
        self.w = matrix(weights[0], (in_size, None), f"{where}: weights[0] (kernel)")
        self.out_size = self.w.shape[1]
        self.b = (
            vector(weights[1], self.out_size, f"{where}: weights[1] (bias)")
            if len(weights) == 2
            else (np.zeros(self.out_size))
        )
        self.code = code_of(spec.get("activation", ""), where)

    def reset(self) -> None:
        pass

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = np.empty((x.shape[0], self.out_size))
        dense_block(x, self.w, self.b, y)
        apply(y, self.code)
        return y
