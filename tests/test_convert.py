"""ONNX -> RTNeural JSON: converted models give the same outputs under onnxruntime and the rtneural backend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from kelly_jack.backends import create_backend
from kelly_jack.backends.rtneural.convert import ConversionError, convert, convert_file

from support.jackd import ROOT

RNG = np.random.default_rng(11)


def f32(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def build(nodes, inputs, outputs, inits, path=None):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, path)
    return model


def ort_run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def rtneural_run(model, steps, tmp_path):
    (tmp_path / "m.json").write_text(__import__("json").dumps(convert(model)))
    backend = create_backend("rtneural", {"model": str(tmp_path / "m.json")})
    return backend.model.forward_block(steps.astype(np.float64))


def test_dense_chain(tmp_path):
    w1, b1, w2, b2 = f32(6, 4), f32(6), f32(6, 3), f32(3)  # w1 used with transB
    model = build(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
            helper.make_node("Tanh", ["h"], ["t"]),
            helper.make_node("MatMul", ["t", "w2"], ["m"]),
            helper.make_node("Add", ["m", "b2"], ["a"]),
            helper.make_node("Softmax", ["a"], ["y"], axis=-1),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 3])],
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2},
    )
    x = f32(20, 4, scale=2.0)
    assert np.max(np.abs(rtneural_run(model, x, tmp_path) - ort_run(model, x))) < 1e-6


def test_batchnorm_prelu_relu_elu(tmp_path):
    c = 5
    model = build(
        [
            helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"], epsilon=1e-3),
            helper.make_node("PRelu", ["n", "s"], ["p"]),
            helper.make_node("Elu", ["p"], ["e"]),
            helper.make_node("Relu", ["e"], ["y"]),
        ],
        [("x", ["N", c])],
        [("y", ["N", c])],
        {"g": f32(c), "b": f32(c), "m": f32(c), "v": np.abs(f32(c)) + 0.1, "s": f32(c)},
    )
    x = f32(30, c, scale=2.0)
    assert np.max(np.abs(rtneural_run(model, x, tmp_path) - ort_run(model, x))) < 1e-5


@pytest.mark.parametrize("op", ["GRU", "LSTM"])
def test_recurrent_then_dense(tmp_path, op):
    n_in, h, steps = 3, 5, 60
    gates = 3 if op == "GRU" else 4
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    outs = ["y", ""] if op == "GRU" else ["y", "", ""]
    model = build(
        [
            helper.make_node(op, ["x", "W", "R", "B"], outs, hidden_size=h, **extra),
            helper.make_node("Squeeze", ["y", "axes"], ["s"]),
            helper.make_node("MatMul", ["s", "wd"], ["m"]),
            helper.make_node("Add", ["m", "bd"], ["out"]),
        ],
        [("x", [steps, 1, n_in])],
        [("out", [steps, 1, 2])],
        {
            "W": f32(1, gates * h, n_in),
            "R": f32(1, gates * h, h),
            "B": f32(1, 2 * gates * h),
            "axes": np.array([1], dtype=np.int64),
            "wd": f32(h, 2),
            "bd": f32(2),
        },
    )
    x = f32(steps, 1, n_in, scale=1.0)
    ours = rtneural_run(model, x[:, 0, :], tmp_path)
    assert np.max(np.abs(ours - ort_run(model, x)[:, 0, :])) < 1e-5


def test_causal_grouped_dilated_conv(tmp_path):
    steps, k, d = 80, 3, 2
    model = build(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], dilations=[d], group=2, pads=[(k - 1) * d, 0]),
            helper.make_node("Tanh", ["c"], ["t"]),
            helper.make_node("Transpose", ["t"], ["tt"], perm=[0, 2, 1]),
            helper.make_node("MatMul", ["tt", "wd"], ["m"]),
            helper.make_node("Add", ["m", "bd"], ["out"]),
        ],
        [("x", [1, 4, steps])],
        [("out", [1, steps, 1])],
        {"w": f32(6, 2, k), "b": f32(6), "wd": f32(6, 1), "bd": f32(1)},
    )
    x = f32(1, 4, steps, scale=1.0)
    ours = rtneural_run(model, x[0].T, tmp_path)
    assert np.max(np.abs(ours - ort_run(model, x)[0])) < 1e-5


@pytest.mark.parametrize(
    ("nodes", "inits", "words"),
    [
        ([helper.make_node("Sin", ["x"], ["y"])], {}, "op Sin has no RTNeural layer"),
        (
            [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1])],
            {"w": f32(2, 2, 3)},
            "only causal padding is supported (pads [2, 0])",
        ),
        (
            [helper.make_node("GRU", ["x", "W", "R"], ["y"], hidden_size=2)],
            {"W": f32(1, 6, 2), "R": f32(1, 6, 2)},
            "needs linear_before_reset=1",
        ),
    ],
    ids=["unknown-op", "conv-padding", "gru-reset"],
)
def test_refusals_name_the_node(nodes, inits, words):
    model = build(nodes, [("x", [1, 2, 4])], [("y", ["a", "b", "c"])], inits)
    with pytest.raises(ConversionError) as e:
        convert(model)
    assert words in str(e.value)


def test_convert_command_then_run_under_both_backends(tmp_path):
    w, b = f32(128, 64, scale=0.1), f32(64)
    build(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
        [("x", ["N", 128])],
        [("y", ["N", 64])],
        {"w": w, "b": b},
        path=tmp_path / "m.onnx",
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "kelly_jack",
            "model",
            "convert",
            str(tmp_path / "m.onnx"),
            "-o",
            str(tmp_path / "m.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    x = f32(9, 128)
    a = create_backend("onnx", {"model": str(tmp_path / "m.onnx")}).infer_block(x)
    b_ = create_backend("rtneural", {"model": str(tmp_path / "m.json")}).infer_block(x)
    assert np.max(np.abs(a - b_)) < 1e-5
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    with pytest.raises(ConversionError, match="not a readable ONNX file"):
        convert_file(bad, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_trainer_mlp_converts_with_its_casts_and_metadata(tmp_path):
    """The trainer's MLP ONNX (Cast to double, Gemm, Tanh, Gemm, Cast to float) converts to an equal model."""
    from kelly_jack.training import export
    from kelly_jack.training.features import ANALYSIS_RATE, HOP, WINDOW, clip_features
    from kelly_jack.training.mlp import Network

    rng = np.random.default_rng(5)
    net = Network(
        rng.normal(0, 0.05, (16, 128)), rng.normal(0, 0.1, 16), rng.normal(0, 0.3, (64, 16)), rng.normal(0, 0.1, 64),
        rng.normal(0, 0.1, (3, 64)),
    )  # fmt: skip
    meta = export.metadata(net, layout_version=5, rate=ANALYSIS_RATE, window=WINDOW, hop=HOP, training="test")
    source = tmp_path / "mlp.onnx"
    export.save(net, meta, source, tmp_path / "mlp.json")
    doc = convert_file(source, tmp_path / "e.json")
    assert [layer["type"] for layer in doc["layers"]] == ["dense", "activation", "dense"]
    t = np.arange(ANALYSIS_RATE) / ANALYSIS_RATE
    audio = sum(0.2 * np.sin(2 * np.pi * f * t) * (1 + np.sign(np.sin(2 * np.pi * 3 * t))) for f in (262, 330, 392))
    x = clip_features(audio, ANALYSIS_RATE)
    a = create_backend("onnx", {"model": str(source)})
    b = create_backend("rtneural", {"model": str(tmp_path / "e.json")})
    assert np.max(np.abs(a.infer_block(x) - b.infer_block(x))) < 1e-5
    for key in ("layout_version", "sample_rate", "window", "hop", "mapping", "emotion_mapping", "training_data"):
        assert b.metadata[key] == a.metadata[key], key


def test_shipped_recurrent_model_is_refused_in_one_line(tmp_path):
    """models/emotion.onnx takes its GRU state as a second input: convert says so (the trainer writes the JSON)."""
    with pytest.raises(ConversionError) as e:
        convert_file(ROOT / "models" / "emotion.onnx", tmp_path / "e.json")
    assert "\n" not in str(e.value) and "2 inputs" in str(e.value)
    assert not (tmp_path / "e.json").exists()


def test_cast_to_an_integer_is_refused():
    model = build(
        [helper.make_node("Cast", ["x"], ["y"], name="to_int", to=TensorProto.INT32)],
        [("x", ["N", 4])],
        [("y", ["N", 4])],
        {},
    )
    with pytest.raises(ConversionError, match="'to_int' \\(Cast\\): only casts between float and double.*INT32"):
        convert(model)
