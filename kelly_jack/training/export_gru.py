"""Writing a trained ``GruNetwork`` as a streaming ONNX graph and as RTNeural JSON.

ONNX (opset 17): inputs ``features`` ``[N, 128]`` float and ``state`` ``[1, 1, units]``
float (the GRU's hidden state before the first row); outputs ``emotion``
``[N, 64]`` logits and ``state_out`` (the state after the last row). The N rows
are consecutive hops, run in order as the GRU's sequence axis, so one row per
call streams and a whole clip is one call. The dense layers compute in float64
(the first holds the folded feature standardisation); the ``GRU`` operator
(``linear_before_reset=1``, gates z, r, h: RTNeural's reset_after GRU) runs in
float32, because onnxruntime has no double GRU kernel. The metadata key
``kelly_jack.state`` (``[["state", "state_out"]]``) tells the onnx backend to
feed ``state_out`` back into ``state`` and to zero it on reset.

RTNeural JSON: dense (tanh), gru (kernel, recurrent kernel, two-row bias:
reset_after), dense; the rtneural backend streams the GRU itself (state in its
plan, zeroed by ``reset()``), in float64.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gru import GruNetwork

STATE_IN, STATE_OUT = "state", "state_out"
STATE_KEY = "kelly_jack.state"


def onnx_model(net: GruNetwork, meta: dict[str, Any]) -> onnx.ModelProto:
    """The network as a streaming ONNX model (module docstring) carrying ``meta`` and ``kelly_jack.state``."""
    n_in, units, n_out = net.w1.shape[1], net.wr.shape[0], net.w2.shape[0]
    f32 = np.float32
    inits = [
        numpy_helper.from_array(net.w1.astype(np.float64), "w1"),
        numpy_helper.from_array(net.b1.astype(np.float64), "b1"),
        numpy_helper.from_array(net.wk.T.astype(f32)[None], "gru_W"),  # [1, 3 units, dense], rows z, r, h
        numpy_helper.from_array(net.wr.T.astype(f32)[None], "gru_R"),
        numpy_helper.from_array(np.concatenate([net.b_in, net.b_rec]).astype(f32)[None], "gru_B"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([-1, units], dtype=np.int64), "rows_units"),
        numpy_helper.from_array(net.w2.astype(np.float64), "w2"),
        numpy_helper.from_array(net.b2.astype(np.float64), "b2"),
    ]
    nodes = [
        helper.make_node("Cast", ["features"], ["x64"], name="to_double", to=TensorProto.DOUBLE),
        helper.make_node("Gemm", ["x64", "w1", "b1"], ["z1"], name="dense1", transB=1),
        helper.make_node("Tanh", ["z1"], ["a64"], name="tanh1"),
        helper.make_node("Cast", ["a64"], ["a32"], name="to_float_gru", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["a32", "axis1"], ["seq"], name="rows_as_time"),  # [N, 1 (batch), dense]
        helper.make_node(
            "GRU",
            ["seq", "gru_W", "gru_R", "gru_B", "", STATE_IN],
            ["gru_y", STATE_OUT],
            name="gru",
            hidden_size=units,
            linear_before_reset=1,
        ),
        helper.make_node("Reshape", ["gru_y", "rows_units"], ["h32"], name="rows"),
        helper.make_node("Cast", ["h32"], ["h64"], name="to_double_out", to=TensorProto.DOUBLE),
        helper.make_node("Gemm", ["h64", "w2", "b2"], ["z2"], name="dense2", transB=1),
        helper.make_node("Cast", ["z2"], ["emotion"], name="to_float", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "kelly_jack_emotion_gru",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_in]),
            helper.make_tensor_value_info(STATE_IN, TensorProto.FLOAT, [1, 1, units]),
        ],
        [
            helper.make_tensor_value_info("emotion", TensorProto.FLOAT, ["N", n_out]),
            helper.make_tensor_value_info(STATE_OUT, TensorProto.FLOAT, [1, 1, units]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kelly-jack")
    model.ir_version = 8
    for k, v in {**meta, STATE_KEY: [[STATE_IN, STATE_OUT]]}.items():
        text = v if isinstance(v, str) else json.dumps(v)
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=text))
    onnx.checker.check_model(model)
    return model


def rtneural_doc(net: GruNetwork, meta: dict[str, Any]) -> dict[str, Any]:
    """RTNeural JSON (Keras layouts) of the same weights, with ``meta`` as top-level keys."""
    n_in, dense, units, n_out = net.w1.shape[1], net.w1.shape[0], net.wr.shape[0], net.w2.shape[0]
    return {
        "in_shape": [None, None, n_in],
        "layers": [
            {
                "type": "dense",
                "activation": "tanh",
                "shape": [None, None, dense],
                "weights": [net.w1.T.tolist(), net.b1.tolist()],
            },
            {
                "type": "gru",
                "activation": "tanh",
                "shape": [None, None, units],
                "weights": [net.wk.tolist(), net.wr.tolist(), [net.b_in.tolist(), net.b_rec.tolist()]],
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
