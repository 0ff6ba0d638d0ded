"""``sum``: branches of layers run on the same input, their outputs added step by step.

A residual block is ``sum`` of the main branch and a skip branch (an empty
branch is the identity). Every branch streams from the same steps, so each
carries its own latency: torch's causal-cropped residual
``prelu(bn(conv1(x))) + res(x)`` (micro-tcn) is reproduced from step
``(k-1)*dilation`` of conv1 on, as in RTNeural's own microtcn test.
"""

from __future__ import annotations

import numpy as np

from .parameters import count_parameters


class Sum:
    def __init__(self, branches: list[list], in_size: int):
        """``branches``: lists of layers, already checked to chain and to end at the same size."""
        self.branches = branches
        self.out_size = branches[0][-1].out_size if branches[0] else in_size

    def reset(self) -> None:
        for branch in self.branches:
            for layer in branch:
                layer.reset()

    def parameter_count(self) -> int:
        return sum(count_parameters(layer) for branch in self.branches for layer in branch)

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros((x.shape[0], self.out_size))
        for branch in self.branches:
            y = x
            for layer in branch:
                y = layer.forward_block(y)
            total += y
        return total
