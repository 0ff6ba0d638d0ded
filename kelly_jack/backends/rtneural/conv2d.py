"""``conv2d``: RTNeural's 2-D convolution, streaming along time, whole-frame along features.

One step is one frame of ``num_features_in x num_filters_in`` values, flattened
``[feature][channel]``; the output frame is ``features_out x num_filters_out``,
flattened the same way. Weights: ``[kernel (kt x kf x in x out), bias (out)]``
(Keras layout). Along time the layer is causal and streaming, like ``conv1d``:
time tap i reads the frame ``(kt-1-i)*dilation`` steps ago (zero before the
first step; the history carries across blocks). Along features it is a plain
cross-correlation with ``strides`` and ``padding``: ``valid`` gives
``ceil((F - kf + 1) / stride)`` features, ``same`` gives ``ceil(F / stride)``
with TensorFlow's left padding. A Keras model with ``same`` time padding is
therefore ``(kt-1)//2`` frames behind Keras's output (RTNeural has the same
offset).
"""

from __future__ import annotations

import numba
import numpy as np

from .activation import apply, code_of
from .errors import ModelError
from .weights import shaped, vector


@numba.njit(nogil=True, cache=True)
def conv2d_block(x, history, w, b, dilation, stride, pad_left, out):
    """x: (steps, F_in, C_in); history: the last (kt-1)*dilation frames, oldest first, updated in place;
    out: (steps, F_out, C_out)."""
    steps, n_feat, n_in = x.shape
    kt, kf, _, n_out = w.shape
    f_out = out.shape[1]
    span = history.shape[0]
    for t in range(steps):
        for fo in range(f_out):
            for o in range(n_out):
                out[t, fo, o] = b[o]
        for i in range(kt):
            back = (kt - 1 - i) * dilation  # how many frames ago time tap i reads
            for fo in range(f_out):
                for j in range(kf):
                    f = fo * stride + j - pad_left
                    if f < 0 or f >= n_feat:
                        continue  # zero padding
                    for c in range(n_in):
                        if back <= t:
                            v = x[t - back, f, c]
                        else:
                            v = history[span - (back - t), f, c]
                        for o in range(n_out):
                            out[t, fo, o] += w[i, j, c, o] * v
    if span > 0:
        if steps >= span:
            history[:] = x[steps - span :]
        else:
            history[: span - steps] = history[steps:].copy()
            history[span - steps :] = x


def features_out(n_feat: int, kf: int, stride: int, valid: bool) -> tuple[int, int]:
    """(output features, left padding), as TensorFlow computes them."""
    if valid:
        return -(-(n_feat - kf + 1) // stride), 0
    rem = n_feat % stride
    pad_total = max(kf - stride if rem == 0 else kf - rem, 0)
    return -(-n_feat // stride), pad_total // 2


class Conv2D:
    def __init__(self, spec: dict, where: str, in_size: int):
        kt = _positive(spec, "kernel_size_time", where)
        kf = _positive(spec, "kernel_size_feature", where)
        self.dilation = _positive(spec, "dilation", where, 1)
        self.stride = _positive(spec, "strides", where, 1)
        n_in = _positive(spec, "num_filters_in", where)
        self.n_feat = _positive(spec, "num_features_in", where)
        if self.n_feat * n_in != in_size:
            raise ModelError(
                f"{where}: num_features_in {self.n_feat} x num_filters_in {n_in} != the {in_size} inputs per frame"
            )
        padding = spec.get("padding")
        if padding not in ("valid", "same"):
            raise ModelError(f"{where}: 'padding' must be 'valid' or 'same', got {padding!r}")
        weights = spec.get("weights", [])
        if len(weights) != 2:
            raise ModelError(f"{where}: expected [kernel, bias] weights, got {len(weights)} arrays")
        self.w = np.ascontiguousarray(shaped(weights[0], (kt, kf, n_in, None), f"{where}: weights[0] (kernel)"))
        self.n_out = self.w.shape[3]
        declared = spec.get("num_filters_out", self.n_out)
        if declared != self.n_out:
            raise ModelError(f"{where}: num_filters_out {declared!r} but the kernel has {self.n_out} filters")
        self.b = vector(weights[1], self.n_out, f"{where}: weights[1] (bias)")
        self.f_out, self.pad_left = features_out(self.n_feat, kf, self.stride, padding == "valid")
        if self.f_out < 1:
            raise ModelError(f"{where}: kernel_size_feature {kf} is wider than the {self.n_feat} features")
        self.n_in = n_in
        self.out_size = self.f_out * self.n_out
        self.code = code_of(spec.get("activation", ""), where)
        self.history = np.zeros(((kt - 1) * self.dilation, self.n_feat, n_in))

    def reset(self) -> None:
        self.history[:] = 0.0

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        steps = x.shape[0]
        frames = np.ascontiguousarray(x).reshape(steps, self.n_feat, self.n_in)
        y = np.empty((steps, self.f_out, self.n_out))
        conv2d_block(frames, self.history, self.w, self.b, self.dilation, self.stride, self.pad_left, y)
        y = y.reshape(steps, self.out_size)
        apply(y, self.code)
        return y


def _positive(spec: dict, key: str, where: str, default: int | None = None) -> int:
    value = spec.get(key, default)
    if isinstance(value, list) and len(value) == 1:  # RTNeural reads either 5 or [5]
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"{where}: missing or bad {key!r} ({spec.get(key)!r})")
    return value
