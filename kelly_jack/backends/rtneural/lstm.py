"""``lstm``: Keras's LSTM, streaming (state carried across steps and blocks).

Weights: ``[kernel (in x 4h), recurrent (h x 4h), bias (4h)]``, gates in Keras
order i, f, c, o; tanh and sigmoid as in Keras's defaults (no peepholes).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .dense import accumulate
from .gru import _sigmoid, recurrent_weights
from .weights import vector


@numba.njit(nogil=True, cache=True)
def lstm_block(x, h, c, wk, wr, b, out):
    steps = x.shape[0]
    n = h.shape[0]
    g = np.empty(4 * n)
    for t in range(steps):
        g[:] = b
        accumulate(g, x[t], wk)
        accumulate(g, h, wr)
        for u in range(n):
            i_g = _sigmoid(g[u])
            f_g = _sigmoid(g[n + u])
            c_g = math.tanh(g[2 * n + u])
            o_g = _sigmoid(g[3 * n + u])
            c[u] = f_g * c[u] + i_g * c_g
            out[t, u] = o_g * math.tanh(c[u])
        for u in range(n):
            h[u] = out[t, u]


class LSTM:
    def __init__(self, spec: dict, where: str, in_size: int):
        units, self.wk, self.wr, weights = recurrent_weights(spec, where, in_size, 4)
        self.b = vector(weights[2], 4 * units, f"{where}: weights[2] (bias) for {units} units")
        self.out_size = units
        self.h = np.zeros(units)
        self.c = np.zeros(units)

    def reset(self) -> None:
        self.h[:] = 0.0
        self.c[:] = 0.0

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = np.empty((x.shape[0], self.out_size))
        lstm_block(np.ascontiguousarray(x), self.h, self.c, self.wk, self.wr, self.b, y)
        return y
