"""``conv1d``: a causal, streaming 1-D convolution with dilation and groups.

Weights: ``[kernel (k x in/groups x out), bias (out)]`` (Keras layout; tap 0
is the oldest). Output at step t uses inputs t - (k-1-j)*dilation for tap j;
the history before the first step is zero (Keras ``padding='causal'``), and
it carries over from one block to the next.
"""

from __future__ import annotations

import numba
import numpy as np

from .activation import apply, code_of
from .errors import ModelError
from .weights import shaped, vector


@numba.njit(nogil=True, cache=True)
def conv1d_block(x, history, w, b, dilation, groups, out):
    """``history`` holds the last (k-1)*dilation inputs (oldest first) and is updated in place."""
    steps, n_in = x.shape
    k, in_per_group, n_out = w.shape
    out_per_group = n_out // groups
    span = history.shape[0]
    for t in range(steps):
        for o in range(n_out):
            g = o // out_per_group
            acc = b[o]
            for j in range(k):
                back = (k - 1 - j) * dilation  # how many steps ago tap j reads
                for c in range(in_per_group):
                    ci = g * in_per_group + c
                    if back <= t:
                        v = x[t - back, ci]
                    else:
                        v = history[span - (back - t), ci]
                    acc += w[j, c, o] * v
            out[t, o] = acc
    # keep the newest ``span`` inputs for the next block
    if span > 0:
        if steps >= span:
            history[:, :] = x[steps - span :, :]
        else:
            history[: span - steps, :] = history[steps:, :].copy()
            history[span - steps :, :] = x


class Conv1D:
    def __init__(self, spec: dict, where: str, in_size: int):
        weights = spec.get("weights", [])
        k = _single(spec, "kernel_size", where)
        self.dilation = _single(spec, "dilation", where, default=1)
        self.groups = spec.get("groups", 1)
        if not isinstance(self.groups, int) or self.groups < 1 or in_size % self.groups:
            raise ModelError(f"{where}: groups {self.groups!r} does not divide the {in_size} inputs")
        if len(weights) != 2:
            raise ModelError(f"{where}: expected [kernel, bias] weights, got {len(weights)} arrays")
        self.w = np.ascontiguousarray(
            shaped(weights[0], (k, in_size // self.groups, None), f"{where}: weights[0] (kernel)")
        )
        self.out_size = self.w.shape[2]
        if self.out_size % self.groups:
            raise ModelError(f"{where}: groups {self.groups} does not divide the {self.out_size} outputs")
        self.b = vector(weights[1], self.out_size, f"{where}: weights[1] (bias)")
        self.code = code_of(spec.get("activation", ""), where)
        self.history = np.zeros(((k - 1) * self.dilation, in_size))

    def reset(self) -> None:
        self.history[:] = 0.0

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = np.empty((x.shape[0], self.out_size))
        conv1d_block(np.ascontiguousarray(x), self.history, self.w, self.b, self.dilation, self.groups, y)
        apply(y, self.code)
        return y


def _single(spec: dict, key: str, where: str, default=None) -> int:
    value = spec.get(key, [default] if default is not None else None)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"{where}: missing or bad {key!r} ({spec.get(key)!r})")
    return value
