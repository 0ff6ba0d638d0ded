"""Frame mode: each input row is one whole frame, run through stateless ``valid`` convolutions.

RTNeural's ``Conv1DStateless`` models (``conv_stateless.json``) are Keras
``padding='valid'`` convolutions over a whole frame: a frame of ``L`` steps
gives ``L - (k-1)*dilation`` steps after a conv1d. Reading such a file as a
streaming model is wrong, so this mode must be asked for (backend option
``mode: frame``, or ``mode: frame`` in an architecture description).

``in_shape`` ``[null, L, C]``: a row of ``L*C`` values, flattened
``[step][channel]``. The output row is the last layer's ``L_out x C_out``
values, flattened the same way. Each row is independent (every layer is reset
first). Layers: conv1d, dense, time-distributed-dense, activation, batchnorm,
prelu (the per-step layers act on each step of the frame); recurrent and 2-D
layers are refused.
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .parameters import count_parameters

FRAME_KINDS = ("conv1d", "dense", "time-distributed-dense", "activation", "batchnorm", "prelu")


class FrameModel:
    """Same interface as ``model.Model``; a step is one frame, flattened."""

    def __init__(self, layers: list, crops: list[int], kinds: list[str], frame: int, channels: int, out_len: int):
        self.layers, self.crops, self.kinds = layers, crops, kinds
        self.input_size = frame * channels
        self.frame, self.channels = frame, channels
        self.output_size = out_len * (layers[-1].out_size if layers else channels)

    def reset(self) -> None:
        for layer in self.layers:
            layer.reset()

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        """(frames, L*C) -> (frames, L_out*C_out); no state is carried from one frame to the next."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, self.input_size)
        out = np.empty((x.shape[0], self.output_size))
        for row in range(x.shape[0]):
            self.reset()
            y = x[row].reshape(self.frame, self.channels)
            for layer, crop in zip(self.layers, self.crops, strict=True):
                # a causal streaming conv from zero state, minus its first (k-1)*d outputs, is a 'valid' conv
                y = layer.forward_block(y)[crop:]
            out[row] = y.reshape(-1)
        self.reset()
        return out

    def parameters(self) -> int:
        return sum(count_parameters(layer) for layer in self.layers)


def frame_model(specs: list, in_shape: list, classes: dict) -> FrameModel:
    """Build a frame-mode model from Keras-format layer specs; raises ModelError."""
    if len(in_shape) != 3 or not isinstance(in_shape[1], int) or in_shape[1] < 1:
        raise ModelError(f"frame mode needs 'in_shape' [null, frame length, channels], got {in_shape!r}")
    length, channels = in_shape[1], in_shape[2]
    size = channels
    layers, crops, kinds = [], [], []
    for index, spec in enumerate(specs):
        kind = spec.get("type") if isinstance(spec, dict) else None
        where = f"layer {index} ({kind})"
        if kind not in FRAME_KINDS:
            raise ModelError(f"{where}: not supported in frame mode (layers: {', '.join(FRAME_KINDS)})")
        layer = classes[kind](spec, where, size)
        crop = _span(spec) if kind == "conv1d" else 0
        length -= crop
        if length < 1:
            raise ModelError(f"{where}: its kernel is longer than the {length + crop} steps left of the frame")
        shape = spec.get("shape")
        if isinstance(shape, list) and len(shape) == 3 and shape[1:] != [length, layer.out_size]:
            raise ModelError(f"{where}: declares shape {shape[1:]} but gives [{length}, {layer.out_size}]")
        layers.append(layer)
        crops.append(crop)
        kinds.append(kind)
        size = layer.out_size
    return FrameModel(layers, crops, kinds, in_shape[1], channels, length)


def _span(spec: dict) -> int:
    """(k-1)*dilation of a conv1d spec the Conv1D constructor has already validated."""
    k, d = spec["kernel_size"], spec.get("dilation", 1)
    k = k[0] if isinstance(k, list) else k
    d = d[0] if isinstance(d, list) else d
    return (k - 1) * d
