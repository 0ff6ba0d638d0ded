"""The ``rtneural`` backend: RTNeural's JSON model format run by Numba kernels, one small module per layer type.

Options: ``model`` (required), the .json file; ``precision``: "float64"
(default, like RTNeural's double-precision tests) or "float32" (RTNeural's own
default type: twice the SIMD lanes, weights rounded to float32, errors ~1e-7
relative per layer). Layers: dense, time-distributed-dense, activation, conv1d
(dilation, groups, causal streaming), batchnorm, prelu, gru (reset_after true
or false), lstm; activations tanh, relu, sigmoid, softmax (max-subtracted),
elu. Streaming state carries across ``infer`` calls until ``reset()``. The
model runs as one fused kernel per block (``fused.Plan``); results are
returned as float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...hookspecs import BackendFactory, hookimpl
from ..base import BackendBase, BackendError, take_options
from .errors import ModelError
from .fused import PRECISIONS
from .model import Model, load_model

NAME = "rtneural"


class RTNeuralBackend(BackendBase):
    name = NAME

    def __init__(self, options: dict[str, Any]):
        o = take_options(NAME, options, {"model": (str, ...), "precision": (str, "float64")})
        self.path = Path(o["model"])
        if o["precision"] not in PRECISIONS:
            known = ", ".join(PRECISIONS)
            raise BackendError(
                f"backend {NAME!r}: backend.precision {o['precision']!r} is not one of {known}", "precision"
            )
        try:
            self.model: Model = load_model(self.path)
        except ModelError as e:
            raise BackendError(f"backend {NAME!r}: {self.path}: {e}", "model") from None
        if o["precision"] != "float64":
            m = self.model
            self.model = Model(m.layers, m.input_size, m.kinds, precision=o["precision"])
        self.precision = o["precision"]
        self.input_size = self.model.input_size
        self.output_size = self.model.output_size

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self.model.infer(features)

    def infer_block(self, block: np.ndarray) -> np.ndarray:
        return self.model.infer_block(block)

    def reset(self) -> None:
        self.model.reset()

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "name": NAME,
            "file": str(self.path),
            "layers": ", ".join(self.model.kinds),
            "parameters": self.model.parameters(),
            "precision": self.precision,
            "layout_version": None,
            "emotion_mapping": None,
        }


@hookimpl
def kelly_jack_backends() -> list[BackendFactory]:
    return [BackendFactory(NAME, RTNeuralBackend, "an RTNeural JSON model run by Numba kernels")]
