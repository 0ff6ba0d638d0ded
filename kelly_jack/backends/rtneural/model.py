"""Reading RTNeural's Keras-format JSON into a sequence of layers, refusing what it cannot run.

``{"in_shape": [..., n_inputs], "layers": [{"type", "activation", "shape",
"weights", ...}, ...]}``. Every layer is checked against the size the one
before it produces; an unknown layer type or activation, a missing key or a
weight array of the wrong shape is a ``ModelError`` naming the layer, never a
crash on the first forward pass and never a silently skipped layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .activation import Activation
from .batchnorm import BatchNorm
from .conv1d import Conv1D
from .dense import Dense
from .errors import ModelError
from .gru import GRU
from .lstm import LSTM
from .prelu import PReLU

LAYERS = {
    "dense": Dense,
    "time-distributed-dense": Dense,
    "activation": Activation,
    "conv1d": Conv1D,
    "batchnorm": BatchNorm,
    "prelu": PReLU,
    "gru": GRU,
    "lstm": LSTM,
}
NOT_YET = {"conv2d", "batchnorm2d"}


class Model:
    """Layers run in order over blocks of steps (each layer carries its own state)."""

    def __init__(self, layers: list, input_size: int, kinds: list[str]):
        self.layers = layers
        self.kinds = kinds
        self.input_size = input_size
        self.output_size = layers[-1].out_size if layers else input_size

    def reset(self) -> None:
        for layer in self.layers:
            layer.reset()

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        """(steps, inputs) -> (steps, outputs); streaming layers process the steps in order."""
        y = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, self.input_size)
        for layer in self.layers:
            y = layer.forward_block(y)
        return y

    def parameters(self) -> int:
        return int(
            sum(a.size for layer in self.layers for a in vars(layer).values() if isinstance(a, np.ndarray))
            - sum(getattr(layer, "history", np.zeros(0)).size for layer in self.layers)
            - sum(
                getattr(layer, "h", np.zeros(0)).size + getattr(layer, "c", np.zeros(0)).size for layer in self.layers
            )
        )


def load_model(path: str | Path) -> Model:
    """Parse and validate the JSON at ``path``; raises ModelError."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ModelError("no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"not a readable JSON file ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise ModelError("not an RTNeural model: no 'layers' list (PyTorch state_dict files are not read yet)")
    in_shape = doc.get("in_shape")
    if not isinstance(in_shape, list) or not in_shape or not isinstance(in_shape[-1], int):
        raise ModelError(f"missing or bad 'in_shape' ({in_shape!r})")
    size = in_shape[-1]
    layers, kinds = [], []
    for index, spec in enumerate(doc["layers"]):
        kind = spec.get("type") if isinstance(spec, dict) else None
        where = f"layer {index} ({kind})"
        if kind in NOT_YET:
            raise ModelError(f"{where}: layer type {kind!r} is not supported yet")
        if kind not in LAYERS:
            raise ModelError(f"{where}: unknown layer type {kind!r} (known: {', '.join(LAYERS)})")
        layer = LAYERS[kind](spec, where, size)
        shape = spec.get("shape")
        if isinstance(shape, list) and shape and isinstance(shape[-1], int) and shape[-1] != layer.out_size:
            raise ModelError(f"{where}: declares {shape[-1]} outputs but its weights give {layer.out_size}")
        layers.append(layer)
        kinds.append(kind)
        size = layer.out_size
    return Model(layers, in_shape[-1], kinds)
