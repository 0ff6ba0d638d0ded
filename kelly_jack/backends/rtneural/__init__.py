"""The ``rtneural`` backend: RTNeural models run by Numba kernels, one small module per layer type.

Options: ``model`` (required): RTNeural's Keras-format ``.json`` or a
``.yaml`` architecture description (``architecture.py``: PyTorch state_dicts,
or a Keras file and its mode); ``mode``: ``stream`` (default) or ``frame``
(whole-frame stateless ``valid`` convs, ``frame.py``); ``precision`` (stream
mode): ``float64`` (default, like RTNeural's double-precision tests) or
``float32`` (RTNeural's own default type: twice the SIMD lanes, weights
rounded to float32, ~1e-7 relative per layer). Layers: dense,
time-distributed-dense, activation, conv1d (dilation, groups, causal
streaming), conv2d (streaming time axis), batchnorm, batchnorm2d, prelu, gru
(reset_after true or false), lstm; activations tanh, relu, sigmoid, softmax
(max-subtracted), elu. Streaming state carries across ``infer`` calls until
``reset()``. In stream mode each run of the layer types ``fused.covers`` runs
as one fused kernel per block (``fused.Plan``). Results are returned as float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...hookspecs import BackendFactory, hookimpl
from .. import model_meta
from ..base import BackendBase, BackendError, take_options
from .errors import ModelError
from .frame import FrameModel
from .fused import PRECISIONS
from .model import Model, load_with_document

NAME = "rtneural"


class RTNeuralBackend(BackendBase):
    name = NAME

    def __init__(self, options: dict[str, Any]):
        spec = {"model": (str, ...), "mode": (str, ""), "precision": (str, "float64")}
        o = take_options(NAME, options, spec)
        self.path = Path(o["model"])
        self.precision = o["precision"]
        if self.precision not in PRECISIONS:
            known = ", ".join(PRECISIONS)
            raise BackendError(
                f"backend {NAME!r}: backend.precision {self.precision!r} is not one of {known}", "precision"
            )
        try:
            self.model: Model | FrameModel
            self.model, doc = load_with_document(self.path, o["mode"] or None)
        except ModelError as e:
            raise BackendError(f"backend {NAME!r}: {self.path}: {e}", "model") from None
        try:  # the file's kelly_jack.* top-level keys (JSON model, or YAML architecture description)
            self._meta = model_meta.read(doc if isinstance(doc, dict) else {})
        except ValueError as e:
            raise BackendError(f"backend {NAME!r}: {self.path}: {e}", "model") from None
        self._fused = isinstance(self.model, Model)  # stream mode: Model.infer/infer_block take the fused path
        if self.precision != "float64":
            if not self._fused:
                raise BackendError(f"backend {NAME!r}: backend.precision applies to stream mode only", "precision")
            m = self.model
            self.model = Model(m.layers, m.input_size, m.kinds, precision=self.precision)
        if self._fused:
            self.model.warm_up()  # a cold Numba cache compiles here, before JACK, not on the inference thread
            self.infer = self.model.infer  # same contract; one Python call less per vector
        self.input_size = self.model.input_size
        self.output_size = self.model.output_size

    def infer(self, features: np.ndarray) -> np.ndarray:
        if self._fused:
            return self.model.infer(features)
        return self.model.forward_block(np.asarray(features).reshape(1, -1))[0].astype(np.float32)

    def infer_block(self, block: np.ndarray) -> np.ndarray:
        if self._fused:
            return self.model.infer_block(block)
        return self.model.forward_block(block).astype(np.float32)

    def reset(self) -> None:
        self.model.reset()

    def _sizes(self) -> list[int]:
        first = self.model.channels if isinstance(self.model, FrameModel) else self.model.input_size
        return [first, *(layer.out_size for layer in self.model.layers)]

    @property
    def metadata(self) -> dict[str, Any]:
        """Includes the file's ``kelly_jack.*`` top-level keys (``model_meta``), read at load."""
        return {
            "name": NAME,
            "file": str(self.path),
            "mode": "frame" if isinstance(self.model, FrameModel) else "stream",
            "layers": ", ".join(self.model.kinds),
            # values per step into the first layer, then out of each (per step of the frame in frame mode)
            "sizes": " -> ".join(str(n) for n in self._sizes()),
            "parameters": self.model.parameters(),
            "precision": self.precision,
            "recurrent": any(k in ("gru", "lstm") for k in self.model.kinds),
            **{k: v for k, v in self._meta.items() if k != "state"},
        }


@hookimpl
def kelly_jack_backends() -> list[BackendFactory]:
    # .yaml, .yml: a description of a PyTorch state_dict (backends/rtneural/describe.py)
    suffixes = (".json", ".yaml", ".yml")
    return [BackendFactory(NAME, RTNeuralBackend, "an RTNeural JSON model run by Numba kernels", suffixes)]
