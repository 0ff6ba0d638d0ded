"""Converting an ONNX graph into RTNeural's Keras-format JSON.

Only graphs that are a chain of the ops RTNeural's layers cover convert:

=================================  =========================================
ONNX                               RTNeural layer
=================================  =========================================
Gemm; MatMul (+ Add of a vector)   dense
Tanh, Relu, Sigmoid, Softmax, Elu  activation (Softmax on the last axis; Elu alpha 1)
PRelu                              prelu
BatchNormalization                 batchnorm
GRU (linear_before_reset=1)        gru (Keras reset_after)
LSTM (no peepholes)                lstm
Conv, 1-D, causal padding          conv1d (left pads (k-1)*dilation, right 0)
=================================  =========================================

Squeeze, Unsqueeze, Reshape, Flatten, Identity and Transpose are taken as
layout changes between layers and dropped, and so is Cast between float and
double: the rtneural backend computes every layer in float64 and hands out
float32, which is what a float-in, double-inside, float-out graph computes
(the shipped ``models/emotion.onnx`` is one). A Cast to any other type
(integers, bool, float16) changes values and is refused. Anything else is
refused by op name (``ConversionError``), as is a graph that is not a single
chain, a forward-only recurrent layer, or an attribute the layer cannot honour.

The model's ``kelly_jack.*`` metadata (ONNX ``metadata_props``) become top-level
keys of the JSON, with JSON values, as ``kelly_jack.training.export`` writes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ...errors import KellyError
from .. import model_meta

ACTIVATIONS = {"Tanh": "tanh", "Relu": "relu", "Sigmoid": "sigmoid", "Softmax": "softmax", "Elu": "elu"}
LAYOUT = {"Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity", "Transpose"}
# Cast targets that keep the values a float64 computation gives (rounded to float32 at the output)
FLOAT_CASTS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE}


class ConversionError(KellyError):
    """The graph cannot be expressed as an RTNeural model; one line naming the node."""


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Graph:
    def __init__(self, model: onnx.ModelProto):
        self.consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"]).astype(np.float64)
        self.nodes = [n for n in model.graph.node if n.op_type != "Constant"]
        inputs = [i for i in model.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ConversionError(f"the graph has {len(inputs)} inputs; RTNeural models have one")
        self.input = inputs[0]

    def const(self, node, index: int, what: str) -> np.ndarray:
        if len(node.input) <= index or not node.input[index]:
            raise ConversionError(f"node {node.name or node.op_type!r} ({node.op_type}): no {what}")
        name = node.input[index]
        if name not in self.consts:
            raise ConversionError(f"node {node.name or node.op_type!r} ({node.op_type}): {what} is not a constant")
        return self.consts[name]


def _dense(w: np.ndarray, b: np.ndarray | None) -> dict:
    weights = [w.tolist()] + ([b.reshape(-1).tolist()] if b is not None else [])
    return {"type": "dense", "activation": "", "shape": [None, w.shape[1]], "weights": weights}


def convert(model: onnx.ModelProto) -> dict:
    """The RTNeural JSON document for ``model``; raises ConversionError."""
    g = _Graph(model)
    layers: list[dict] = []
    current = g.input.name
    i = 0
    while i < len(g.nodes):
        node = g.nodes[i]
        label = f"node {node.name or node.op_type!r} ({node.op_type})"
        if node.input[0] != current:
            raise ConversionError(f"{label}: the graph is not a single chain of layers")
        op, a = node.op_type, _attrs(node)
        if op == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                raise ConversionError(f"{label}: only transB, alpha 1 and beta 1 are supported")
            w = g.const(node, 1, "weight")
            w = w.T if a.get("transB", 0) else w
            b = g.const(node, 2, "bias") if len(node.input) > 2 and node.input[2] else None
            layers.append(_dense(w, b))
        elif op == "MatMul":
            w = g.const(node, 1, "weight")
            nxt = g.nodes[i + 1] if i + 1 < len(g.nodes) else None
            if nxt is not None and nxt.op_type == "Add" and nxt.input[0] == node.output[0]:
                layers.append(_dense(w, g.const(nxt, 1, "bias")))
                node = nxt
                i += 1
            else:
                layers.append(_dense(w, None))
        elif op in ACTIVATIONS:
            if op == "Softmax" and a.get("axis", -1) not in (-1, 1):
                raise ConversionError(f"{label}: only softmax over the last axis is supported")
            if op == "Elu" and a.get("alpha", 1.0) != 1.0:
                raise ConversionError(f"{label}: only alpha 1 is supported")
            size = layers[-1]["shape"][-1] if layers else None
            layers.append({"type": "activation", "activation": ACTIVATIONS[op], "shape": [None, size], "weights": []})
        elif op == "PRelu":
            alpha = g.const(node, 1, "slope").reshape(1, -1)
            layers.append(
                {"type": "prelu", "activation": "", "shape": [None, alpha.shape[1]], "weights": [alpha.tolist()]}
            )
        elif op == "BatchNormalization":
            arrays = [
                g.const(node, k, what).reshape(-1).tolist()
                for k, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var"))
            ]
            layers.append(
                {
                    "type": "batchnorm",
                    "activation": "",
                    "shape": [None, len(arrays[0])],
                    "epsilon": float(a.get("epsilon", 1e-5)),
                    "weights": arrays,
                }
            )
        elif op in ("GRU", "LSTM"):
            layers.append(_recurrent(g, node, a, label))
        elif op == "Conv":
            layers.append(_conv1d(g, node, a, label))
        elif op == "Cast":
            if a.get("to") not in FLOAT_CASTS:
                to = onnx.TensorProto.DataType.Name(a["to"]) if "to" in a else "?"
                raise ConversionError(f"{label}: only casts between float and double are supported, not to {to}")
        elif op not in LAYOUT:
            raise ConversionError(f"{label}: op {op} has no RTNeural layer")
        current = node.output[0]
        i += 1
    if not layers:
        raise ConversionError("the graph has no layers")
    first = layers[0]
    in_size = (
        np.asarray(first["weights"][0]).shape[0]
        if first["type"] in ("dense", "gru", "lstm")
        else np.asarray(first["weights"][0]).shape[1] * first.get("groups", 1)
        if first["type"] == "conv1d"
        else first["shape"][-1]
    )
    return {"in_shape": [None, None, int(in_size)], "layers": layers, **_metadata(model)}


def _metadata(model: onnx.ModelProto) -> dict:
    """The ``kelly_jack.*`` metadata_props as JSON values (numbers and matrices decoded, text kept)."""
    out = {}
    for prop in model.metadata_props:
        if not prop.key.startswith(model_meta.PREFIX):
            continue
        name = prop.key[len(model_meta.PREFIX) :]
        if name in model_meta.TEXTS:
            out[prop.key] = prop.value
            continue
        try:
            out[prop.key] = json.loads(prop.value)
        except ValueError:
            raise ConversionError(f"metadata {prop.key}: not a JSON value: {prop.value[:60]!r}") from None
    return out


def _recurrent(g: _Graph, node, a: dict, label: str) -> dict:
    op = node.op_type
    if a.get("direction", b"forward") not in (b"forward", "forward"):
        raise ConversionError(f"{label}: only forward direction is supported")
    if a.get("activations") or a.get("clip") or a.get("layout", 0):
        raise ConversionError(f"{label}: custom activations, clip or batch-first layout are not supported")
    h = int(a["hidden_size"])
    w, r = g.const(node, 1, "W")[0], g.const(node, 2, "R")[0]
    gates = 3 if op == "GRU" else 4
    b = g.const(node, 3, "B")[0] if len(node.input) > 3 and node.input[3] else np.zeros(2 * gates * h)
    if op == "GRU":
        if a.get("linear_before_reset", 0) != 1:
            raise ConversionError(f"{label}: needs linear_before_reset=1 (Keras reset_after)")
        bias = [b[: 3 * h].tolist(), b[3 * h :].tolist()]
        return {
            "type": "gru",
            "activation": "tanh",
            "shape": [None, None, h],
            "weights": [w.T.tolist(), r.T.tolist(), bias],
        }
    if len(node.input) > 7 and node.input[7]:
        raise ConversionError(f"{label}: peepholes are not supported")
    # ONNX gates i, o, f, c; Keras i, f, c, o
    order = np.concatenate([np.arange(0, h), np.arange(2 * h, 3 * h), np.arange(3 * h, 4 * h), np.arange(h, 2 * h)])
    bias = (b[: 4 * h] + b[4 * h :])[order]
    return {
        "type": "lstm",
        "activation": "tanh",
        "shape": [None, None, h],
        "weights": [w[order].T.tolist(), r[order].T.tolist(), bias.tolist()],
    }


def _conv1d(g: _Graph, node, a: dict, label: str) -> dict:
    w = g.const(node, 1, "weight")  # (out, in/groups, k)
    if w.ndim != 3:
        raise ConversionError(f"{label}: only 1-D convolutions are supported")
    k = w.shape[2]
    d = int(a.get("dilations", [1])[0])
    if a.get("strides", [1]) != [1]:
        raise ConversionError(f"{label}: only stride 1 is supported")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or list(a.get("pads", [0, 0])) != [(k - 1) * d, 0]:
        raise ConversionError(f"{label}: only causal padding is supported (pads [{(k - 1) * d}, 0])")
    b = g.const(node, 2, "bias") if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0])
    return {
        "type": "conv1d",
        "activation": "",
        "shape": [None, None, w.shape[0]],
        "kernel_size": [k],
        "dilation": [d],
        "groups": int(a.get("group", 1)),
        "weights": [w.transpose(2, 1, 0).tolist(), b.tolist()],
    }


def convert_file(source: str | Path, target: str | Path) -> dict:
    """Convert the .onnx at ``source`` and write the JSON to ``target``; raises ConversionError."""
    try:
        model = onnx.load(str(source))
    except Exception as e:
        raise ConversionError(f"{source}: not a readable ONNX file ({str(e).splitlines()[0]})") from None
    doc = convert(model)
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(target)  # never a half-written model
    return doc
