"""A strided causal conv1d: a new output every ``stride``-th step, held in between.

It wraps an ordinary ``Conv1D`` (same kernel, same Keras-format spec). Counting
steps from ``reset()``, a new output is taken at steps ``(k-1)*dilation +
m*stride`` (torch's ``stride`` output m: the first full window, then every
stride-th), and the last new output is repeated on the steps between (zeros
before the first full window), as RTNeural's StridedConv1D does after ``skip()``-ping the
first ``(k-1)*dilation`` inputs. The phase carries across blocks.
"""

from __future__ import annotations

import numpy as np

from .conv1d import Conv1D
from .parameters import count_parameters


class StridedConv1D:
    def __init__(self, spec: dict, where: str, in_size: int, stride: int):
        self.conv = Conv1D(spec, where, in_size)
        (k,), (dilation,) = spec["kernel_size"], spec["dilation"]  # Keras's one-entry lists
        self.span = (k - 1) * dilation
        self.stride = stride
        self.out_size = self.conv.out_size
        self.step = 0  # steps since reset
        self.held = np.zeros(self.out_size)

    def reset(self) -> None:
        self.conv.reset()
        self.step = 0
        self.held[:] = 0.0

    def parameter_count(self) -> int:
        return count_parameters(self.conv)

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        # every step's full conv output, then keep only the strided ones (simple, stride times the work)
        full = self.conv.forward_block(x)
        steps = full.shape[0]
        since_window = self.step + np.arange(steps) - self.span  # steps since the first full window
        fresh = (since_window >= 0) & (since_window % self.stride == 0)
        # for each step, the index of the newest fresh step at or before it (-1: none in this block)
        last = np.maximum.accumulate(np.where(fresh, np.arange(steps), -1))
        y = np.where((last >= 0)[:, None], full[np.maximum(last, 0)], self.held)
        if steps:
            self.held[:] = y[-1]
        self.step += steps
        return y
