"""Activations RTNeural's JSON names: tanh, relu, sigmoid, softmax, elu (and none).

Applied in place over a (steps, size) block. Softmax subtracts each row's
maximum first (RTNeural's does not, and overflows on large inputs). An
unknown name is a load error, never a silent identity.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .errors import ModelError

CODES = {"": 0, "linear": 0, "tanh": 1, "relu": 2, "sigmoid": 3, "softmax": 4, "elu": 5}


@numba.njit(nogil=True, cache=True)
def apply(y, code):
    """Apply activation ``code`` (see CODES) to every row of ``y`` in place."""
    steps, size = y.shape
    if code == 1:
        for t in range(steps):
            for i in range(size):
                y[t, i] = math.tanh(y[t, i])
    elif code == 2:
        for t in range(steps):
            for i in range(size):
                y[t, i] = max(y[t, i], 0.0)
    elif code == 3:
        for t in range(steps):
            for i in range(size):
                y[t, i] = 1.0 / (1.0 + math.exp(-y[t, i]))
    elif code == 4:
        for t in range(steps):
            peak = -np.inf
            for i in range(size):
                peak = max(peak, y[t, i])
            total = 0.0
            for i in range(size):
                y[t, i] = math.exp(y[t, i] - peak)
                total += y[t, i]
            for i in range(size):
                y[t, i] /= total
    elif code == 5:
        for t in range(steps):
            for i in range(size):
                if y[t, i] < 0.0:
                    y[t, i] = math.expm1(y[t, i])


class Activation:
    """The ``activation`` layer type: an activation on its own."""

    def __init__(self, spec: dict, where: str, in_size: int):
        self.code = code_of(spec.get("activation", ""), where)
        self.out_size = in_size

    def reset(self) -> None:
        pass

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = x.copy()
        apply(y, self.code)
        return y


def code_of(name, where: str) -> int:
    if name is None:
        return 0
    if name not in CODES:
        raise ModelError(f"{where}: unknown activation {name!r} (known: {', '.join(n for n in CODES if n)})")
    return CODES[name]
