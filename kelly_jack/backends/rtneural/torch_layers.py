"""PyTorch modules' parameters turned into the Keras-format layers the rtneural kernels run.

Each builder takes one layer entry of an architecture description, the
``StateDict`` and the input size per step, reads the parameters under the
entry's ``prefix`` (checking every shape against the input size and naming the
parameter and file when one is wrong), converts them to the Keras layout and
constructs the ordinary layer classes, so torch and Keras models share every
kernel:

* ``gru`` (``torch.nn.GRU``, ``num_layers`` stacked): gates r, z, n become
  Keras's z, r, h; torch's GRU is Keras's ``reset_after=True`` (the two biases
  become its two bias rows).
* ``lstm`` (``torch.nn.LSTM``): gates i, f, g, o are Keras's i, f, c, o; the two
  biases are added.
* ``dense`` (``torch.nn.Linear``): kernel = weight transposed.
* ``conv1d`` (``torch.nn.Conv1d``): weight [out, in/groups, k] -> [k, in/groups,
  out]; causal and streaming, so torch's ``valid`` output n is step
  n + (k-1)*dilation. With ``stride`` s a new output comes every s-th step (at
  steps (k-1)*dilation + m*s, torch's output m) and is held in between, as
  RTNeural's StridedConv1D does.
* ``conv_transpose1d`` (``torch.nn.ConvTranspose1d``, groups 1): run over an
  input the caller has zero-stuffed (stride-1 zero steps after each input
  step); weight [in, out, k] becomes a conv1d kernel with its taps reversed;
  torch's output n is step n + padding.
* ``batchnorm`` (``torch.nn.BatchNorm1d`` in eval mode): running_mean,
  running_var, and weight/bias when affine; ``eps`` from the entry, else the
  state_dict's ``prefix.eps``, else 1e-5.
* ``prelu`` (``torch.nn.PReLU``): weight [channels] or [1].
* ``activation``: tanh, relu, sigmoid, softmax or elu, no parameters.
"""

from __future__ import annotations

import numpy as np

from .activation import Activation
from .batchnorm import BatchNorm
from .conv1d import Conv1D
from .dense import Dense
from .errors import ModelError
from .gru import GRU
from .lstm import LSTM
from .prelu import PReLU
from .state_dict import StateDict
from .strided import StridedConv1D

# the keys each layer type takes besides 'type' and 'prefix'
KEYS = {
    "gru": {"num_layers", "bias"},
    "lstm": {"num_layers", "bias"},
    "dense": {"bias", "activation"},
    "conv1d": {"kernel", "dilation", "groups", "stride", "bias", "activation"},
    "conv_transpose1d": {"kernel", "stride", "padding", "bias", "activation"},
    "batchnorm": {"eps"},
    "prelu": set(),
    "activation": {"activation"},
}


def build(entry: dict, sd: StateDict, where: str, in_size: int) -> list[tuple[object, str]]:
    """(layer, kind) pairs for one description entry (a stacked RNN gives one pair per layer)."""
    kind = entry["type"]
    unknown = set(entry) - KEYS[kind] - {"type", "prefix"}
    if unknown:
        raise ModelError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (a {kind} takes: "
            f"{', '.join(sorted(KEYS[kind] | {'prefix'}))})"
        )
    return BUILDERS[kind](entry, sd, where, in_size, _prefix(entry, where))


def _spec(kind: str, out: int, weights: list, activation="") -> dict:
    """A layer dict exactly as RTNeural's Keras-format JSON has it (weights as nested lists)."""
    return {
        "type": kind,
        "activation": activation,
        "shape": [None, None, out],
        "weights": [np.asarray(w).tolist() for w in weights],
    }


def _prefix(entry: dict, where: str) -> str:
    prefix = entry.get("prefix", "")
    if not isinstance(prefix, str):
        raise ModelError(f"{where}: 'prefix' must be a string, got {prefix!r}")
    return f"{prefix}." if prefix else ""


def _int(entry: dict, key: str, where: str, default: int | None, minimum: int = 1) -> int | None:
    value = entry.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ModelError(f"{where}: '{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _bool(entry: dict, key: str, where: str) -> bool:
    value = entry.get(key, True)
    if not isinstance(value, bool):
        raise ModelError(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


def _recurrent(entry, sd, where, in_size, p, gates: int, weights, layer_class, kind: str):
    """Stacked torch GRU/LSTM layers: ``weights(w_ih, w_hh, biases, h)`` gives the RTNeural weight list."""
    out = []
    bias = _bool(entry, "bias", where)
    for k in range(_int(entry, "num_layers", where, 1)):
        h = sd.get(f"{p}weight_hh_l{k}", (None, None), where).shape[1]
        w_hh = sd.get(f"{p}weight_hh_l{k}", (gates * h, h), where)
        w_ih = sd.get(f"{p}weight_ih_l{k}", (gates * h, in_size), where)
        if bias:
            b = np.stack([sd.get(f"{p}{n}_l{k}", (gates * h,), where) for n in ("bias_ih", "bias_hh")])
        else:
            b = np.zeros((2, gates * h))
        spec = _spec(kind, h, weights(w_ih, w_hh, b, h))
        out.append((layer_class(spec, f"{where} layer {k}", in_size), kind))
        in_size = h
    return out


def _gru_weights(w_ih, w_hh, b, h):
    order = np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]  # torch r, z, n -> Keras z, r, h
    return [w_ih[order].T, w_hh[order].T, b[:, order]]


def _lstm_weights(w_ih, w_hh, b, h):
    return [w_ih.T, w_hh.T, b.sum(axis=0)]  # i, f, g, o = Keras i, f, c, o; one bias


def _gru(entry, sd, where, in_size, p):
    return _recurrent(entry, sd, where, in_size, p, 3, _gru_weights, GRU, "gru")


def _lstm(entry, sd, where, in_size, p):
    return _recurrent(entry, sd, where, in_size, p, 4, _lstm_weights, LSTM, "lstm")


def _dense(entry, sd, where, in_size, p):
    w = sd.get(f"{p}weight", (None, in_size), where)
    weights = [w.T]
    if _bool(entry, "bias", where):
        weights.append(sd.get(f"{p}bias", (w.shape[0],), where))
    spec = _spec("dense", w.shape[0], weights, entry.get("activation", ""))
    return [(Dense(spec, where, in_size), "dense")]


def _conv_weights(entry, sd, where, w, n_out, p):
    kernel = _int(entry, "kernel", where, None)
    if kernel is not None and kernel != w.shape[2]:
        raise ModelError(f"{where}: {p}weight has kernel size {w.shape[2]}, the description says {kernel}")
    bias = sd.get(f"{p}bias", (n_out,), where) if _bool(entry, "bias", where) else np.zeros(n_out)
    return w.shape[2], bias


def _conv1d(entry, sd, where, in_size, p):
    w = sd.get(f"{p}weight", (None, None, None), where)
    n_out, per_group = w.shape[0], w.shape[1]
    groups = _int(entry, "groups", where, in_size // per_group if per_group and in_size % per_group == 0 else 1)
    w = sd.get(f"{p}weight", (n_out, in_size // groups, None), where)
    k, bias = _conv_weights(entry, sd, where, w, n_out, p)
    dilation = _int(entry, "dilation", where, 1)
    spec = _spec("conv1d", n_out, [w.transpose(2, 1, 0), bias], entry.get("activation", ""))
    spec.update(kernel_size=[k], dilation=[dilation], groups=groups)
    stride = _int(entry, "stride", where, 1)
    if stride > 1:
        return [(StridedConv1D(spec, where, in_size, stride), "conv1d")]
    return [(Conv1D(spec, where, in_size), "conv1d")]


def _conv_transpose1d(entry, sd, where, in_size, p):
    w = sd.get(f"{p}weight", (in_size, None, None), where)
    n_out = w.shape[1]
    k, bias = _conv_weights(entry, sd, where, w, n_out, p)
    _int(entry, "stride", where, 1)  # documents the zero-stuffing the caller does
    _int(entry, "padding", where, 0, minimum=0)  # documents the output offset
    # [in, out, k] -> taps reversed, [k, in, out]
    spec = _spec("conv1d", n_out, [w[:, :, ::-1].transpose(2, 0, 1), bias], entry.get("activation", ""))
    spec.update(kernel_size=[k], dilation=[1], groups=1)
    return [(Conv1D(spec, where, in_size), "conv_transpose1d")]


def _batchnorm(entry, sd, where, in_size, p):
    eps = entry.get("eps")
    if eps is None:
        eps = sd.scalar(f"{p}eps", where) if sd.has(f"{p}eps") else 1e-5
    stats = [sd.get(f"{p}running_mean", (in_size,), where), sd.get(f"{p}running_var", (in_size,), where)]
    if sd.has(f"{p}weight") or sd.has(f"{p}bias"):
        stats = [sd.get(f"{p}weight", (in_size,), where), sd.get(f"{p}bias", (in_size,), where), *stats]
    spec = _spec("batchnorm", in_size, stats)
    spec["epsilon"] = eps
    return [(BatchNorm(spec, where, in_size), "batchnorm")]


def _prelu(entry, sd, where, in_size, p):
    alpha = sd.get(f"{p}weight", (None,), where)
    if alpha.size not in (1, in_size):
        raise ModelError(f"{where}: {p}weight has {alpha.size} values, expected 1 or {in_size}")
    return [(PReLU(_spec("prelu", in_size, [alpha.reshape(1, -1)]), where, in_size), "prelu")]


def _activation(entry, sd, where, in_size, p):
    if "activation" not in entry:
        raise ModelError(f"{where}: an activation layer needs 'activation'")
    return [(Activation(_spec("activation", in_size, [], entry["activation"]), where, in_size), "activation")]


BUILDERS = {
    "gru": _gru,
    "lstm": _lstm,
    "dense": _dense,
    "conv1d": _conv1d,
    "conv_transpose1d": _conv_transpose1d,
    "batchnorm": _batchnorm,
    "prelu": _prelu,
    "activation": _activation,
}
