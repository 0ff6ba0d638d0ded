"""``prelu``: y = x for x >= 0, alpha * x otherwise; alpha per channel, or one value for all."""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .weights import shaped


class PReLU:
    def __init__(self, spec: dict, where: str, in_size: int):
        weights = spec.get("weights", [])
        if len(weights) != 1:
            raise ModelError(f"{where}: expected one alpha array, got {len(weights)}")
        alpha = shaped(weights[0], (None, None), f"{where}: weights[0] (alpha)").reshape(-1)
        if alpha.size not in (1, in_size):
            raise ModelError(f"{where}: alpha has {alpha.size} values, expected 1 or {in_size}")
        self.alpha = np.broadcast_to(alpha, (in_size,)).copy()
        self.out_size = in_size

    def reset(self) -> None:
        pass

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        return np.where(x >= 0.0, x, self.alpha * x)
