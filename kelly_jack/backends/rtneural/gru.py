"""``gru``: Keras's GRU, streaming (state carried across steps and blocks).

Weights: ``[kernel (in x 3h), recurrent (h x 3h), bias]``, gates in Keras order
z (update), r (reset), h (candidate). A bias of two rows (3h each, input and
recurrent) is ``reset_after=True``, Keras's default since 2.x: the reset gate
multiplies the recurrent candidate term after its matrix product. A bias of one
row (3h) is ``reset_after=False``: the reset gate multiplies the state before it.
Both are supported; the layer's ``activation`` key is ignored (always tanh), as
in RTNeural.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .dense import accumulate
from .errors import ModelError
from .weights import matrix, shaped


@numba.njit(nogil=True, cache=True)
def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


@numba.njit(nogil=True, cache=True)
def gru_block(x, h, wk, wr, b_in, b_rec, reset_after, out):
    steps = x.shape[0]
    n = h.shape[0]
    xz = np.empty(3 * n)
    hz = np.empty(3 * n)
    rh = np.empty(n)
    for t in range(steps):
        xz[:] = b_in
        accumulate(xz, x[t], wk)
        if reset_after:
            hz[:] = b_rec
            accumulate(hz, h, wr)
            for u in range(n):
                z = _sigmoid(xz[u] + hz[u])
                r = _sigmoid(xz[n + u] + hz[n + u])
                cand = math.tanh(xz[2 * n + u] + r * hz[2 * n + u])
                out[t, u] = z * h[u] + (1.0 - z) * cand
        else:
            for g in range(2 * n):
                acc = 0.0
                for i in range(n):
                    acc += h[i] * wr[i, g]
                hz[g] = acc
            for u in range(n):
                rh[u] = _sigmoid(xz[n + u] + hz[n + u]) * h[u]
            for u in range(n):
                acc = 0.0
                for i in range(n):
                    acc += rh[i] * wr[i, 2 * n + u]
                z = _sigmoid(xz[u] + hz[u])
                cand = math.tanh(xz[2 * n + u] + acc)
                out[t, u] = z * h[u] + (1.0 - z) * cand
        for u in range(n):
            h[u] = out[t, u]


class GRU:
    def __init__(self, spec: dict, where: str, in_size: int):
        units, self.wk, self.wr, weights = recurrent_weights(spec, where, in_size, 3)
        bias = np.asarray(weights[2], dtype=np.float64)
        if bias.ndim == 2:
            bias = shaped(weights[2], (2, 3 * units), f"{where}: weights[2] (bias)")
            self.b_in, self.b_rec, self.reset_after = bias[0].copy(), bias[1].copy(), True
        else:
            self.b_in = shaped(weights[2], (3 * units,), f"{where}: weights[2] (bias)").copy()
            self.b_rec, self.reset_after = np.zeros(3 * units), False
        self.out_size = units
        self.h = np.zeros(units)

    def reset(self) -> None:
        self.h[:] = 0.0

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = np.empty((x.shape[0], self.out_size))
        gru_block(np.ascontiguousarray(x), self.h, self.wk, self.wr, self.b_in, self.b_rec, self.reset_after, y)
        return y


def recurrent_weights(spec: dict, where: str, in_size: int, gates: int):
    """(units, kernel, recurrent kernel, the raw weights list) of a GRU (3 gates) or LSTM (4) layer."""
    shape = spec.get("shape")
    units = shape[-1] if isinstance(shape, list) and shape else None
    if not isinstance(units, int) or units < 1:
        raise ModelError(f"{where}: missing or bad 'shape' ({shape!r})")
    weights = spec.get("weights", [])
    if len(weights) != 3:
        raise ModelError(f"{where}: expected [kernel, recurrent, bias] weights, got {len(weights)} arrays")
    wk = matrix(weights[0], (in_size, gates * units), f"{where}: weights[0] (kernel) for {units} units")
    wr = matrix(weights[1], (units, gates * units), f"{where}: weights[1] (recurrent) for {units} units")
    return units, wk, wr, weights
