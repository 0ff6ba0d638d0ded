"""Reading RTNeural's Keras-format JSON into a sequence of layers, refusing what it cannot run.

``{"in_shape": [..., n_inputs], "layers": [{"type", "activation", "shape",
"weights", ...}, ...]}``. Every layer is checked against the size the one
before it produces; an unknown layer type or activation, a missing key or a
weight array of the wrong shape is a ``ModelError`` naming the layer, never a
crash on the first forward pass and never a silently skipped layer. A
4-entry ``in_shape`` ``[null, time, features, channels]`` (conv2d models)
makes one step a whole frame of ``features x channels`` values. ``load_model``
also dispatches ``.yaml`` architecture descriptions (``architecture.py``) and
frame mode (``frame.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numba
import numpy as np

from .activation import Activation
from .batchnorm import BatchNorm
from .batchnorm2d import BatchNorm2D
from .conv1d import Conv1D
from .conv2d import Conv2D
from .dense import Dense
from .errors import ModelError
from .frame import FrameModel, frame_model
from .fused import Plan, run_block, run_vector, stages
from .gru import GRU
from .lstm import LSTM
from .parameters import count_parameters
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
    "conv2d": Conv2D,
    "batchnorm2d": BatchNorm2D,
}
MODES = ("stream", "frame")


class Model:
    """Layers run in order over blocks of steps, streaming state carried across calls until ``reset()``.

    ``fused=True`` (the default) runs each maximal run of layers ``fused.covers`` as one
    ``fused.Plan`` (one jitted call per block); other layers, and every layer when
    ``fused=False`` (the per-layer reference path), run through their own ``forward_block``.
    ``precision`` ("float64" or "float32") is the plans' arithmetic (see ``fused.PRECISIONS``).
    Each path keeps its own state. ``infer``/``infer_block`` return float32 (the backend
    contract); ``forward_block`` returns float64. Shape errors raise ValueError.
    """

    def __init__(self, layers: list, input_size: int, kinds: list[str], fused: bool = True, precision="float64"):
        self.layers = layers
        self.kinds = kinds
        self.input_size = input_size
        self.output_size = layers[-1].out_size if layers else input_size
        self.stages: list = stages(layers, input_size, precision) if fused else list(layers)
        only = self.stages[0] if len(self.stages) == 1 else None
        # a fully fused model: its kernel's arrays, passed straight to the jitted call
        self._args = (only.ops, only.weights, only.mem) if isinstance(only, Plan) else None
        self._ops, self._weights, self._mem = self._args or (None, None, None)

    def reset(self) -> None:
        for stage in {id(s): s for s in [*self.layers, *self.stages]}.values():
            stage.reset()

    def warm_up(self) -> None:
        """Compile the fused kernels now (at load) rather than on the first inference; resets the state."""
        for stage in self.stages:
            if isinstance(stage, Plan):
                stage.warm_up()

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        """(steps, inputs) -> float64 (steps, outputs); streaming layers process the steps in order."""
        if self._args is not None and type(x) is np.ndarray and x.ndim == 2:
            return self._run(x, np.float64)
        y = self._block(x)
        for stage in self.stages:
            y = stage.forward_block(y)
        return y

    def infer_block(self, x: np.ndarray) -> np.ndarray:
        """(steps, inputs) -> float32 (steps, outputs), the steps in order."""
        if self._args is not None:
            return self._run(x if type(x) is np.ndarray and x.ndim == 2 else self._block(x), np.float32)
        return self.forward_block(x).astype(np.float32)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """One step: (inputs,) -> float32 (outputs,). A fully fused model allocates only the result."""
        ops = self._ops
        if ops is None or type(x) is not np.ndarray or x.ndim != 1:
            return self.forward_block(np.asarray(x).reshape(1, -1))[0].astype(np.float32)
        out = np.empty(self.output_size, np.float32)
        try:  # the per-vector hot path: no conversion, one dispatch
            run_vector(ops, self._weights, self._mem, x, out)
        except numba.core.errors.TypingError:  # a dtype the kernel was not written for
            run_vector(ops, self._weights, self._mem, np.ascontiguousarray(x, dtype=np.float64), out)
        return out

    def _run(self, x: np.ndarray, dtype) -> np.ndarray:
        """The single plan over a 2-D block (any layout; the kernel checks the width)."""
        out = np.empty((x.shape[0], self.output_size), dtype)
        try:
            run_block(*self._args, x, out)
        except numba.core.errors.TypingError:
            run_block(*self._args, np.ascontiguousarray(x, dtype=np.float64), out)
        return out

    def _block(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] != self.input_size:
            raise ValueError(f"rtneural: {x.shape[1]} features per step; the model takes {self.input_size}")
        return x.reshape(-1, self.input_size)

    def parameters(self) -> int:
        return sum(count_parameters(layer) for layer in self.layers)


def load_model(path: str | Path, mode: str | None = None) -> Model | FrameModel:
    """Load the model at ``path``; raises ModelError.

    A ``.json`` file is RTNeural's Keras-format JSON; a ``.yaml``/``.yml`` file
    is an architecture description (``architecture.py``: PyTorch state_dicts,
    or a Keras JSON with its mode). ``mode`` is ``stream`` (one step per row,
    state carried, the default) or ``frame`` (each row one whole frame through
    stateless ``valid`` convolutions, ``frame.py``); a description may set it
    itself (then ``mode`` must be None or agree).
    """
    if mode is not None and mode not in MODES:
        raise ModelError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        from .architecture import load_architecture

        return load_architecture(path, mode)
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise ModelError(
            "not an RTNeural model: no 'layers' list (a PyTorch state_dict needs an architecture "
            "description .yaml, see the README)"
        )
    return keras_model(doc, mode or "stream")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ModelError("no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"not a readable JSON file ({e})") from None


def keras_model(doc: dict, mode: str = "stream") -> Model | FrameModel:
    """Build the layers of a parsed Keras-format document; raises ModelError."""
    in_shape = doc.get("in_shape")
    if not isinstance(in_shape, list) or not in_shape or not isinstance(in_shape[-1], int):
        raise ModelError(f"missing or bad 'in_shape' ({in_shape!r})")
    if mode == "frame":
        return frame_model(doc["layers"], in_shape, LAYERS)
    # [batch, time, features, channels] (conv2d): one step is a whole frame of features x channels
    size = in_shape[-2] * in_shape[-1] if len(in_shape) == 4 and isinstance(in_shape[-2], int) else in_shape[-1]
    input_size = size
    layers, kinds = [], []
    for index, spec in enumerate(doc["layers"]):
        kind = spec.get("type") if isinstance(spec, dict) else None
        where = f"layer {index} ({kind})"
        if kind not in LAYERS:
            raise ModelError(f"{where}: unknown layer type {kind!r} (known: {', '.join(LAYERS)})")
        layer = LAYERS[kind](spec, where, size)
        declared = declared_size(spec.get("shape"))
        if declared is not None and declared != layer.out_size:
            raise ModelError(f"{where}: declares {declared} outputs but its weights give {layer.out_size}")
        layers.append(layer)
        kinds.append(kind)
        size = layer.out_size
    return Model(layers, input_size, kinds)


def declared_size(shape) -> int | None:
    """Values per step a layer's ``shape`` declares: features x channels for 4-D shapes, else the last axis."""
    if not isinstance(shape, list) or not shape or not isinstance(shape[-1], int):
        return None
    if len(shape) == 4 and isinstance(shape[-2], int):
        return shape[-2] * shape[-1]
    return shape[-1]
