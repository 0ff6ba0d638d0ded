"""Small real ONNX files for the tests, written with the onnx package."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def dense_tanh(path: Path, w: np.ndarray, b: np.ndarray, batch="N", inputs: int = 128, **metadata) -> Path:
    """emotion = tanh(features @ w + b); ``batch`` is "N" (dynamic), an int, or None for a 1-D input."""
    shape_in = [inputs] if batch is None else [batch, inputs]
    shape_out = [w.shape[1]] if batch is None else [batch, w.shape[1]]
    nodes = []
    x = "features"
    if batch is None:
        nodes.append(helper.make_node("Unsqueeze", ["features", "axes0"], ["x2"]))
        x = "x2"
    nodes += [helper.make_node("Gemm", [x, "W", "b"], ["z"]), helper.make_node("Tanh", ["z"], ["t"])]
    nodes.append(
        helper.make_node("Squeeze", ["t", "axes0"], ["emotion"])
        if batch is None
        else helper.make_node("Identity", ["t"], ["emotion"])
    )
    inits = [numpy_helper.from_array(w.astype(np.float32), "W"), numpy_helper.from_array(b.astype(np.float32), "b")]
    if batch is None:
        inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"))
    graph = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, shape_in)],
        [helper.make_tensor_value_info("emotion", TensorProto.FLOAT, shape_out)],
        inits,
    )
    return save(
        graph, path, {k.replace("__", "."): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    )


def two_inputs(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["emotion"])],
        "two",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 128]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 128]),
        ],
        [helper.make_tensor_value_info("emotion", TensorProto.FLOAT, [1, 128])],
    )
    return save(graph, path)


def heavy(path: Path, size: int = 1024, repeats: int = 6) -> Path:
    """A model that takes a while: features -> [size, size] -> ``repeats`` MatMuls -> 64 values."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array((rng.standard_normal((128, size)) / 16).astype(np.float32), "up"),
        numpy_helper.from_array(np.array([size, 1], dtype=np.int64), "reps"),
        numpy_helper.from_array((rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32), "m"),
        numpy_helper.from_array((rng.standard_normal((size, 64)) / np.sqrt(size)).astype(np.float32), "down"),
    ]
    nodes = [helper.make_node("MatMul", ["features", "up"], ["h0"]), helper.make_node("Tile", ["h0", "reps"], ["t0"])]
    last = "t0"
    for i in range(repeats):
        nodes.append(helper.make_node("MatMul", [last, "m"], [f"t{i + 1}"]))
        last = f"t{i + 1}"
    nodes += [
        helper.make_node("ReduceMean", [last], ["r"], axes=[0], keepdims=1),
        helper.make_node("MatMul", ["r", "down"], ["emotion"]),
    ]
    graph = helper.make_graph(
        nodes,
        "heavy",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 128])],
        [helper.make_tensor_value_info("emotion", TensorProto.FLOAT, [1, 64])],
        inits,
    )
    return save(graph, path)
