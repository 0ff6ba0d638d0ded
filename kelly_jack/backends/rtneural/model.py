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
from typing import Any

import numba
import numpy as np

from .. import model_file
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

# What a model file may ask for, checked before anything is allocated (a model is never trusted to be small):
MAX_FILE_BYTES = model_file.MAX_MODEL_BYTES
MAX_WIDTH = 65536  # values per step: in_shape, and any size-like key of a layer (kernel_size, dilation, ...)
MAX_STATE_VALUES = 2**24  # one layer's streaming history: (kernel - 1) * dilation steps x values per step
_SIZE_KEYS = (
    "kernel_size",
    "kernel_size_time",
    "kernel_size_feature",
    "dilation",
    "strides",
    "groups",
    "num_filters_in",
    "num_filters_out",
    "num_features_in",
)
# what a malformed layer spec can make a layer constructor raise: always a ModelError naming the layer
_MALFORMED = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError)


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
        self._kinds = only.kinds if isinstance(only, Plan) else ()
        self._ops, self._weights, self._mem = self._args or (None, None, None)

    def reset(self) -> None:
        for stage in {id(s): s for s in [*self.layers, *self.stages]}.values():
            stage.reset()

    def warm_up(self, blocks: bool = False) -> None:
        """Compile the fused kernels now (at load) rather than on the first inference; resets the state.

        ``blocks``: also the ``infer_block`` entries (see ``Plan.warm_up``)."""
        for stage in self.stages:
            if isinstance(stage, Plan):
                stage.warm_up(blocks)

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
            run_vector(ops, self._weights, self._mem, x, out, *self._kinds)
        except numba.core.errors.TypingError:  # a dtype the kernel was not written for
            run_vector(ops, self._weights, self._mem, np.ascontiguousarray(x, dtype=np.float64), out, *self._kinds)
        return out

    def _run(self, x: np.ndarray, dtype) -> np.ndarray:
        """The single plan over a 2-D block (any layout; the kernel checks the width)."""
        out = np.empty((x.shape[0], self.output_size), dtype)
        try:
            run_block(*self._args, x, out, *self._kinds)
        except numba.core.errors.TypingError:
            run_block(*self._args, np.ascontiguousarray(x, dtype=np.float64), out, *self._kinds)
        return out

    def _block(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] != self.input_size:
            raise ValueError(f"rtneural: {x.shape[1]} features per step; the model takes {self.input_size}")
        return x.reshape(-1, self.input_size)

    def parameters(self) -> int:
        return sum(count_parameters(layer) for layer in self.layers)


def load_model(path: str | Path, mode: str | None = None) -> Model | FrameModel:
    """Load the model at ``path``; raises ModelError (``load_with_document``, without the document)."""
    return load_with_document(path, mode)[0]


def load_with_document(path: str | Path, mode: str | None = None) -> tuple[Model | FrameModel, Any]:
    """Load the model at ``path`` and return it with the file's parsed document (read once: its
    top-level ``kelly_jack.*`` keys are the model's metadata); raises ModelError.

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
        from .architecture import load_architecture, read_description

        doc = read_description(path)
        return load_architecture(path, mode, doc), doc
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise ModelError(
            "not an RTNeural model: no 'layers' list (a PyTorch state_dict needs an architecture "
            "description .yaml, see docs/backends.md)"
        )
    return keras_model(doc, mode or "stream"), doc


def read_json(path: Path):
    """The parsed JSON at ``path``; a file over MAX_FILE_BYTES is refused before it is read."""
    try:
        return json.loads(model_file.read_text(path, MAX_FILE_BYTES))
    except FileNotFoundError:
        raise ModelError("no such file") from None
    except model_file.FileTooLarge as e:
        raise ModelError(str(e)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"not a readable JSON file ({e})") from None
    except RecursionError:
        raise ModelError("not a readable JSON file (nested too deeply)") from None


def keras_model(doc: dict, mode: str = "stream") -> Model | FrameModel:
    """Build the layers of a parsed Keras-format document; raises ModelError."""
    in_shape = doc.get("in_shape")
    if not isinstance(in_shape, list) or not in_shape or not isinstance(in_shape[-1], int):
        raise ModelError(f"missing or bad 'in_shape' ({in_shape!r})")
    _check_sizes(doc["layers"], in_shape)
    if mode == "frame":
        try:
            return frame_model(doc["layers"], in_shape, LAYERS)
        except _MALFORMED as e:
            raise ModelError(f"a malformed layer ({type(e).__name__}: {e})") from None
    # [batch, time, features, channels] (conv2d): one step is a whole frame of features x channels
    size = in_shape[-2] * in_shape[-1] if len(in_shape) == 4 and isinstance(in_shape[-2], int) else in_shape[-1]
    input_size = size
    layers, kinds = [], []
    for index, spec in enumerate(doc["layers"]):
        kind = spec.get("type") if isinstance(spec, dict) else None
        where = f"layer {index} ({kind})"
        if not isinstance(kind, str) or kind not in LAYERS:
            raise ModelError(f"{where}: unknown layer type {kind!r} (known: {', '.join(LAYERS)})")
        if _span(spec) * size > MAX_STATE_VALUES:
            raise ModelError(f"{where}: its history of {_span(spec)} steps x {size} values is over {MAX_STATE_VALUES}")
        try:
            layer = LAYERS[kind](spec, where, size)
        except _MALFORMED as e:
            raise ModelError(f"{where}: malformed ({type(e).__name__}: {e})") from None
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


def _int(value) -> int | None:
    """An integer size key (RTNeural reads ``5`` or ``[5]``), else None (the layer reports it)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _span(spec) -> int:
    """Steps of history a conv layer keeps: (kernel - 1) * dilation (0 for other layers)."""
    if not isinstance(spec, dict):
        return 0
    k = _int(spec.get("kernel_size", spec.get("kernel_size_time")))
    d = _int(spec.get("dilation", 1))
    return (k - 1) * d if k is not None and d is not None and k > 1 and d > 0 else 0


def _leading_dims(value) -> list[int]:
    """The axis lengths of a nested list, read along its first elements (cheap; regularity is checked later)."""
    dims = []
    while isinstance(value, list):
        dims.append(len(value))
        value = value[0] if value else None
    return dims


def _check_sizes(specs: list, in_shape: list) -> None:
    """Refuse sizes over the documented limits before any layer allocates; raises ModelError."""
    for d in in_shape:
        if d is not None and (not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= MAX_WIDTH):
            raise ModelError(f"'in_shape' {in_shape!r}: each size must be an integer 1..{MAX_WIDTH}")
    widest = int(np.prod([d for d in in_shape if d is not None]))
    if widest > MAX_WIDTH:
        raise ModelError(f"'in_shape' {in_shape!r}: {widest} values per step, over the limit of {MAX_WIDTH}")
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            continue  # reported as an unknown layer type
        where = f"layer {index} ({spec.get('type')})"
        weights = spec.get("weights", [])
        if not isinstance(weights, list):
            raise ModelError(f"{where}: 'weights' must be a list of arrays, got {type(weights).__name__}")
        for w in weights:
            widest = max(widest, *_leading_dims(w), 0)
        for key in _SIZE_KEYS:
            value = _int(spec.get(key))
            if value is not None and value > MAX_WIDTH:
                raise ModelError(f"{where}: {key!r} {value} is over the limit of {MAX_WIDTH}")
    for index, spec in enumerate(specs):
        if _span(spec) * widest > MAX_STATE_VALUES:
            where = f"layer {index} ({spec.get('type')})"
            raise ModelError(
                f"{where}: a history of {_span(spec)} steps x up to {widest} values is over {MAX_STATE_VALUES}"
            )
