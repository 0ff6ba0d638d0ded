"""Writing a trained network as ONNX and as RTNeural JSON, both with the same metadata.

The ONNX graph (built with ``onnx.helper``): input ``features`` ``[N, 128]``
float, Cast to double, Gemm -> Tanh -> Gemm, Cast to float, output ``emotion``
``[N, 64]`` logits. The RTNeural JSON has the same float64 weights in two
dense layers (the first with tanh). Both compute in float64, so they agree to
the float32 rounding of the output.

A recurrent ``GruNetwork`` is written by ``export_gru`` (a streaming graph
with its state as an input and an output, and the key ``kelly_jack.state``).

Metadata keys (ONNX ``metadata_props`` as strings; RTNeural JSON top-level
keys with JSON values), read back by ``kelly_jack.backends.model_meta``:

``kelly_jack.layout_version``, ``kelly_jack.sample_rate``, ``kelly_jack.window``,
``kelly_jack.hop`` (frames at the sample rate), ``kelly_jack.mapping`` (what the
64 outputs mean), ``kelly_jack.emotion_mapping`` (3x64, valence/arousal/dominance
from the softmax probabilities), ``kelly_jack.training_data`` (a description).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..io import atomic_write
from . import export_gru
from .gru import GruNetwork
from .mlp import Network

MAPPING = (
    "grid8x8: logits over the 8x8 valence-arousal grid, index row*8+col, valence along columns, arousal along "
    "rows, cell centres linspace(-1, 1, 8); valence/arousal = softmax-weighted centroid; kelly_jack.emotion_mapping "
    "is a learned 3x64 valence/arousal/dominance matrix applied to the softmax probabilities (dominance row 0)"
)


def metadata(
    net: Network | GruNetwork, *, layout_version: int, rate: int, window: int, hop: int, training: str
) -> dict[str, Any]:
    return {
        "kelly_jack.layout_version": int(layout_version),
        "kelly_jack.sample_rate": int(rate),
        "kelly_jack.window": int(window),
        "kelly_jack.hop": int(hop),
        "kelly_jack.mapping": MAPPING,
        "kelly_jack.emotion_mapping": np.round(net.mapping, 6).tolist(),
        "kelly_jack.training_data": training,
    }


def onnx_model(net: Network, meta: dict[str, Any]) -> onnx.ModelProto:
    """The network as an ONNX model (opset 17) carrying ``meta`` as metadata_props.

    Float input and output; the layers compute in float64 (Cast in, Cast out),
    as the rtneural backend does: the first layer holds the folded feature
    standardisation, whose cancellations lose up to ~1e-5 in float32.
    """
    inits = [
        numpy_helper.from_array(net.w1.astype(np.float64), "w1"),
        numpy_helper.from_array(net.b1.astype(np.float64), "b1"),
        numpy_helper.from_array(net.w2.astype(np.float64), "w2"),
        numpy_helper.from_array(net.b2.astype(np.float64), "b2"),
    ]
    nodes = [
        helper.make_node("Cast", ["features"], ["x64"], name="to_double", to=TensorProto.DOUBLE),
        helper.make_node("Gemm", ["x64", "w1", "b1"], ["z1"], name="dense1", transB=1),
        helper.make_node("Tanh", ["z1"], ["h1"], name="tanh1"),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["z2"], name="dense2", transB=1),
        helper.make_node("Cast", ["z2"], ["emotion"], name="to_float", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "kelly_jack_emotion",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", net.w1.shape[1]])],
        [helper.make_tensor_value_info("emotion", TensorProto.FLOAT, ["N", net.w2.shape[0]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kelly-jack")
    model.ir_version = 8
    for k, v in meta.items():
        text = v if isinstance(v, str) else json.dumps(v)
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=text))
    onnx.checker.check_model(model)
    return model


def rtneural_doc(net: Network, meta: dict[str, Any]) -> dict[str, Any]:
    """RTNeural JSON (Keras-style kernels, in x out) of the same weights, with ``meta`` as top-level keys."""
    n_in, hidden, n_out = net.w1.shape[1], net.w1.shape[0], net.w2.shape[0]
    return {
        "in_shape": [None, None, n_in],
        "layers": [
            {
                "type": "dense",
                "activation": "tanh",
                "shape": [None, None, hidden],
                "weights": [net.w1.T.tolist(), net.b1.tolist()],
            },
            {
                "type": "dense",
                "activation": "",
                "shape": [None, None, n_out],
                "weights": [net.w2.T.tolist(), net.b2.tolist()],
            },
        ],
        **meta,
    }


def save(net: Network | GruNetwork, meta: dict[str, Any], onnx_path: Path, json_path: Path) -> None:
    """Write both files (each through a temporary file and a rename); a ``GruNetwork`` through ``export_gru``."""
    recurrent = isinstance(net, GruNetwork)
    model = (export_gru.onnx_model if recurrent else onnx_model)(net, meta)
    doc = (export_gru.rtneural_doc if recurrent else rtneural_doc)(net, meta)
    atomic_write(onnx_path, model.SerializeToString())
    atomic_write(json_path, (json.dumps(doc) + "\n").encode())
