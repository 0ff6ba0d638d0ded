"""``batchnorm2d``: ``batchnorm`` per channel over frames flattened ``[feature][channel]``.

Keys ``num_filters_in`` (channels) and ``num_features_in``; weights as
``batchnorm``: ``[gamma, beta, mean, var]`` or ``[mean, var]``, one value per
channel, and ``epsilon``.
"""

from __future__ import annotations

import numpy as np

from .batchnorm import BatchNorm
from .errors import ModelError
from .parameters import count_parameters


class BatchNorm2D:
    def __init__(self, spec: dict, where: str, in_size: int):
        self.channels = spec.get("num_filters_in")
        features = spec.get("num_features_in")
        for key, value in (("num_filters_in", self.channels), ("num_features_in", features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelError(f"{where}: missing or bad {key!r} ({value!r})")
        if self.channels * features != in_size:
            raise ModelError(
                f"{where}: num_features_in {features} x num_filters_in {self.channels}"
                f" != the {in_size} inputs per frame"
            )
        self.per_channel = BatchNorm(spec, where, self.channels)
        self.out_size = in_size

    def reset(self) -> None:
        self.per_channel.reset()

    def parameter_count(self) -> int:
        return count_parameters(self.per_channel)

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        y = self.per_channel.forward_block(np.ascontiguousarray(x).reshape(-1, self.channels))
        return y.reshape(x.shape[0], self.out_size)
