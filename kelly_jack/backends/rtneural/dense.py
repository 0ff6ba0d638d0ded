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


@numba.njit(nogil=True, cache=True, inline="always")
def accumulate(acc, v, w):
    """``acc += v @ w``, row by row of ``w``: contiguous, so the inner loop vectorises."""
    for i in range(v.shape[0]):
        vi = v[i]
        for o in range(acc.shape[0]):
            acc[o] += vi * w[i, o]


@numba.njit(nogil=True, cache=True)
def dense_block(x, w, b, out):
    for t in range(x.shape[0]):
        out[t, :] = b
        accumulate(out[t], x[t], w)


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
