"""Bad model files: truncated, corrupt and mis-shaped ONNX; RTNeural JSON with missing keys, wrong
shapes, NaN/Inf weights, unknown layers and activations, huge sizes and malformed structure.

Each case must be refused by the backend with one line naming the file (``BackendError``; exit
code 2 through ``kelly-jack model info``), or load and give 64 (resp. the model's) values for
finite input without raising. For RTNeural models (whose weights are checked) the values must be
finite. Never a traceback, a hang or a crash. Each test loops over its category's cases and
prints how many were refused and how many loaded.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from kelly_jack.backends import BackendError, create_backend, model_file
from kelly_jack.backends.rtneural.model import MAX_FILE_BYTES

from support.jackd import ROOT
from support.onnx_models import dense_tanh, save, two_inputs

ONNX_MODEL = ROOT / "models" / "emotion.onnx"
RNG = np.random.default_rng(9)


def outcome(backend: str, path: Path, rows: int = 3) -> str:
    """'refused' (one line naming the file), 'finite' or 'non-finite' (loaded; output of finite input)."""
    try:
        b = create_backend(backend, {"model": str(path)})
    except BackendError as e:
        text = str(e)
        assert "\n" not in text and "Traceback" not in text, text
        assert text.startswith(f"backend {backend!r}: {path}"), text
        return "refused"
    x = RNG.standard_normal((rows, b.input_size)).astype(np.float32)
    y = np.asarray(b.infer_block(x))
    assert y.shape == (rows, b.output_size)
    return "finite" if np.all(np.isfinite(y)) else "non-finite"


def run_category(name: str, backend: str, cases: dict[str, Path], allowed=("refused", "finite")) -> dict[str, int]:
    counts: dict[str, int] = {}
    bad, loaded = [], []
    for case, path in cases.items():
        got = outcome(backend, path)
        counts[got] = counts.get(got, 0) + 1
        if got != "refused":
            loaded.append(case)
        if got not in allowed:
            bad.append(f"{case}: {got}")
    print(f"{name}: {len(cases)} cases: {counts}; loaded: {', '.join(loaded) or 'none'}")
    assert not bad, bad
    return counts


# ---------------------------------------------------------------- ONNX


def test_truncated_onnx_files(tmp_path):
    data = ONNX_MODEL.read_bytes()
    cases = {}
    for n in [0, 1, 2, 4, 8, 16, 64, 256, 1024, *np.linspace(2048, len(data) - 1, 24).astype(int)]:
        p = tmp_path / f"t{n}.onnx"
        p.write_bytes(data[:n])
        cases[f"first {n} bytes"] = p
    counts = run_category("onnx truncated", "onnx", cases, allowed=("refused", "finite", "non-finite"))
    assert counts["refused"] >= len(cases) // 2


def test_corrupt_onnx_bytes_are_refused_or_run(tmp_path):
    data = ONNX_MODEL.read_bytes()
    rng = np.random.default_rng(5)
    cases = {}
    for i in range(60):
        b = np.frombuffer(data, dtype=np.uint8).copy()
        at = rng.integers(0, len(b), size=rng.integers(1, 24))
        b[at] = rng.integers(0, 256, size=len(at))
        p = tmp_path / f"c{i}.onnx"
        p.write_bytes(b.tobytes())
        cases[f"{len(at)} bytes at {at[:3].tolist()}..."] = p
    # a flipped weight may make the output non-finite: the inference thread drops such results (counted)
    run_category("onnx corrupt bytes", "onnx", cases, allowed=("refused", "finite", "non-finite"))


def _graph(path: Path, shape_in, shape_out, dtype=TensorProto.FLOAT, op="Identity") -> Path:
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", dtype, shape_in)],
        [helper.make_tensor_value_info("y", dtype, shape_out)],
    )
    return save(graph, path)


def test_mis_shaped_and_non_model_onnx_files(tmp_path):
    w = RNG.standard_normal((128, 64)).astype(np.float32)
    cases = {
        "input [100]": _graph(tmp_path / "a.onnx", [100], [100]),
        "input [1, 128, 1]": _graph(tmp_path / "b.onnx", [1, 128, 1], [1, 128, 1]),
        "input int64": _graph(tmp_path / "c.onnx", [1, 128], [1, 128], TensorProto.INT64),
        "input double": _graph(tmp_path / "d.onnx", [1, 128], [1, 128], TensorProto.DOUBLE),
        "output 128 values": _graph(tmp_path / "e.onnx", [1, 128], [1, 128]),
        "scalar input": _graph(tmp_path / "f.onnx", [], []),
        "output 10 values": dense_tanh(tmp_path / "g.onnx", w[:, :10], np.zeros(10, np.float32)),
        "fixed batch 4": dense_tanh(tmp_path / "h.onnx", w, np.zeros(64, np.float32), batch=4),
        "100 inputs": dense_tanh(tmp_path / "i.onnx", w[:100], np.zeros(64, np.float32), inputs=100),
        "two inputs": two_inputs(tmp_path / "j.onnx"),
    }
    unknown_op = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["y"], domain="com.example")],
        "u",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
    )
    model = helper.make_model(
        unknown_op, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    )
    (tmp_path / "k.onnx").write_bytes(model.SerializeToString())
    cases["unknown op"] = tmp_path / "k.onnx"
    (tmp_path / "l.onnx").write_text("this is not a model\n")
    cases["text file"] = tmp_path / "l.onnx"
    (tmp_path / "m.onnx").write_bytes(os.urandom(4096))
    cases["random bytes"] = tmp_path / "m.onnx"
    (tmp_path / "n.onnx").mkdir()
    cases["a directory"] = tmp_path / "n.onnx"
    cases["missing"] = tmp_path / "none.onnx"
    (tmp_path / "o.onnx").write_bytes(helper.make_tensor("t", TensorProto.FLOAT, [2], [1.0, 2.0]).SerializeToString())
    cases["a TensorProto, not a model"] = tmp_path / "o.onnx"
    counts = run_category("onnx mis-shaped / not a model", "onnx", cases, allowed=("refused",))
    assert counts == {"refused": len(cases)}


# ---------------------------------------------------------------- RTNeural JSON


def base_model() -> dict:
    """A small valid model using most layer types: 4 inputs -> conv1d -> gru -> lstm -> batchnorm ->
    prelu -> dense -> sigmoid."""

    def r(*shape):
        return (RNG.standard_normal(shape) * 0.3).round(4).tolist()

    return {
        "in_shape": [None, None, 4],
        "layers": [
            {
                "type": "conv1d",
                "activation": "tanh",
                "shape": [None, None, 3],
                "kernel_size": [2],
                "dilation": [2],
                "weights": [r(2, 4, 3), r(3)],
            },
            {"type": "gru", "activation": "", "shape": [None, None, 4], "weights": [r(3, 12), r(4, 12), r(12)]},
            {"type": "lstm", "activation": "", "shape": [None, None, 3], "weights": [r(4, 12), r(3, 12), r(12)]},
            {
                "type": "batchnorm",
                "shape": [None, None, 3],
                "epsilon": 0.001,
                "weights": [r(3), r(3), r(3), (np.abs(RNG.standard_normal(3)) + 0.5).round(3).tolist()],
            },
            {"type": "prelu", "shape": [None, None, 3], "weights": [[r(3)]]},
            {"type": "dense", "activation": "tanh", "shape": [None, None, 2], "weights": [r(3, 2), r(2)]},
            {"type": "activation", "activation": "sigmoid", "shape": [None, None, 2], "weights": []},
        ],
    }


def _write(tmp_path: Path, name: str, doc) -> Path:
    p = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def test_the_base_model_runs(tmp_path):
    assert outcome("rtneural", _write(tmp_path, "base", base_model())) == "finite"


def test_missing_keys(tmp_path):
    base = base_model()
    cases = {}
    for key in base:
        doc = copy.deepcopy(base)
        del doc[key]
        cases[f"no {key}"] = _write(tmp_path, key, doc)
    for i, layer in enumerate(base["layers"]):
        for key in layer:
            doc = copy.deepcopy(base)
            del doc["layers"][i][key]
            cases[f"layer {i} no {key}"] = _write(tmp_path, f"{i}{key}", doc)
        for j in range(len(layer["weights"])):
            doc = copy.deepcopy(base)
            del doc["layers"][i]["weights"][j]
            cases[f"layer {i} no weights[{j}]"] = _write(tmp_path, f"{i}w{j}", doc)
    counts = run_category("rtneural missing keys", "rtneural", cases)
    assert counts["refused"] >= len(cases) // 2


def _reshaped(w):
    """Variants of a weight array with a wrong shape."""
    a = np.asarray(w)
    out = {"one row less": a[:-1].tolist(), "wrapped": [a.tolist()], "transposed": a.T.tolist() + [[0.0]]}
    out["scalar"] = 1.0
    out["empty"] = []
    if a.ndim > 1:
        out["flattened"] = a.reshape(-1).tolist()
        out["transposed"] = a.T.tolist() if a.shape[0] != a.shape[-1] else a[:, :-1].tolist()
    return out


def test_wrong_shapes(tmp_path):
    base = base_model()
    cases = {}
    for i, layer in enumerate(base["layers"]):
        for j, w in enumerate(layer["weights"]):
            for what, bad in _reshaped(w).items():
                doc = copy.deepcopy(base)
                doc["layers"][i]["weights"][j] = bad
                cases[f"layer {i} weights[{j}] {what}"] = _write(tmp_path, "", doc)
        doc = copy.deepcopy(base)
        doc["layers"][i]["shape"] = [None, None, 99]
        cases[f"layer {i} declares 99 outputs"] = _write(tmp_path, "", doc)
    doc = copy.deepcopy(base)
    doc["in_shape"] = [None, None, 5]
    cases["in_shape 5"] = _write(tmp_path, "", doc)
    counts = run_category("rtneural wrong shapes", "rtneural", cases)
    assert counts["refused"] >= len(cases) - 8  # a prelu alpha may be one value or one per channel


def test_nan_and_inf_weights(tmp_path):
    base = base_model()
    cases = {}
    for i, layer in enumerate(base["layers"]):
        for j, w in enumerate(layer["weights"]):
            for bad in (float("nan"), float("inf"), float("-inf")):
                doc = copy.deepcopy(base)
                a = np.asarray(w, dtype=float)
                a.reshape(-1)[-1] = bad
                doc["layers"][i]["weights"][j] = a.tolist()
                cases[f"layer {i} weights[{j}] {bad}"] = _write(tmp_path, "", doc)  # json writes NaN / Infinity
    doc = copy.deepcopy(base)
    doc["layers"][3]["weights"][3] = [-1.0, -1.0, -1.0]  # a negative variance: sqrt of a negative number
    cases["batchnorm negative variance"] = _write(tmp_path, "", doc)
    doc = copy.deepcopy(base)
    doc["layers"][3]["epsilon"] = float("nan")
    cases["batchnorm epsilon NaN"] = _write(tmp_path, "", doc)
    counts = run_category("rtneural NaN/Inf", "rtneural", cases)
    assert counts == {"refused": len(cases)}


def test_unknown_layers_and_activations(tmp_path):
    base = base_model()
    cases = {}
    for i in range(len(base["layers"])):
        for kind in ("conv3d", "Dense", "dense2", "", 5, None, ["dense"]):
            doc = copy.deepcopy(base)
            doc["layers"][i]["type"] = kind
            cases[f"layer {i} type {kind!r}"] = _write(tmp_path, "", doc)
        # RTNeural reads no activation for gru and lstm (theirs are fixed): the layers whose activation counts
        if base["layers"][i]["type"] in ("conv1d", "dense", "activation"):
            for act in ("gelu", "swish", "TANH", 5, ["tanh"], "tanh "):
                doc = copy.deepcopy(base)
                doc["layers"][i]["activation"] = act
                cases[f"layer {i} activation {act!r}"] = _write(tmp_path, "", doc)
    counts = run_category("rtneural unknown layers/activations", "rtneural", cases)
    assert counts == {"refused": len(cases)}


def test_huge_sizes_are_refused_before_allocating(tmp_path):
    base = base_model()
    cases = {}
    for in_shape in ([None, None, 10**9], [None, 10**6, 10**6, 3], [None, None, 2**62], [None, None, 0], [None, -4]):
        doc = copy.deepcopy(base)
        doc["in_shape"] = in_shape
        cases[f"in_shape {in_shape}"] = _write(tmp_path, "", doc)
    for key, value in (("dilation", [10**9]), ("dilation", [2**40]), ("kernel_size", [10**7]), ("dilation", [70000])):
        doc = copy.deepcopy(base)
        doc["layers"][0][key] = value
        cases[f"conv1d {key} {value}"] = _write(tmp_path, "", doc)
    # a conv whose weights fit but whose history would not: kernel 2, dilation 60000, 300 channels wide
    wide = {
        "in_shape": [None, None, 300],
        "layers": [
            {"type": "conv1d", "kernel_size": 2, "dilation": 60000, "weights": [np.zeros((2, 300, 1)).tolist(), [0.0]]}
        ],
    }
    cases["conv1d history 60000 x 300"] = _write(tmp_path, "", wide)
    conv2d = {
        "in_shape": [None, None, 4, 1],
        "layers": [
            {
                "type": "conv2d",
                "kernel_size_time": 10**8,
                "kernel_size_feature": 1,
                "num_filters_in": 1,
                "num_features_in": 4,
                "num_filters_out": 1,
                "padding": "valid",
                "weights": [[[[[0.0]]]], [0.0]],
            }
        ],
    }
    cases["conv2d kernel_size_time 1e8"] = _write(tmp_path, "", conv2d)
    doc = copy.deepcopy(base)
    doc["layers"][1]["shape"] = [None, None, 10**9]
    cases["gru 1e9 units"] = _write(tmp_path, "", doc)
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    cases["file over the size limit"] = big
    counts = run_category("rtneural huge sizes", "rtneural", cases, allowed=("refused",))
    assert counts == {"refused": len(cases)}


def test_malformed_structure(tmp_path):
    base = base_model()
    text = json.dumps(base)
    cases = {
        "empty file": _write(tmp_path, "", ""),
        "not JSON": _write(tmp_path, "", "in_shape: [1]\n"),
        "truncated JSON": _write(tmp_path, "", text[: len(text) // 2]),
        "a list": _write(tmp_path, "", [1, 2, 3]),
        "deeply nested": _write(tmp_path, "", "[" * 100000 + "]" * 100000),
        "layers not a list": _write(tmp_path, "", {**base, "layers": {"a": 1}}),
        "a layer that is a number": _write(tmp_path, "", {**base, "layers": [5]}),
        "in_shape a string": _write(tmp_path, "", {**base, "in_shape": "x"}),
        "no layers": _write(tmp_path, "", {**base, "layers": []}),
    }
    (tmp_path / "binary.json").write_bytes(os.urandom(2048))
    cases["random bytes"] = tmp_path / "binary.json"
    for i in range(len(base["layers"]) - 1):  # not the activation layer: RTNeural ignores its weights
        for what, bad in (
            ("a number", 5),
            ("a string", "abc"),
            ("a dict", {"a": 1}),
            ("strings", [[["x"]]]),
            ("ragged", [[1.0, 2.0], [1.0]]),
        ):
            doc = copy.deepcopy(base)
            doc["layers"][i]["weights"] = bad
            cases[f"layer {i} weights {what}"] = _write(tmp_path, "", doc)
    counts = run_category("rtneural malformed", "rtneural", cases)
    assert counts["refused"] >= len(cases) - 1  # no layers: the identity


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        (".json", '{"in_shape": [null, null, 4], "layers": [{"type": "conv1d", "kernel_size": 2, "dilation": 1e9}]}'),
        (".json", "[" * 50000),
        (".onnx", "not a model"),
    ],
    ids=["rtneural-huge", "rtneural-deep", "onnx-text"],
)
def test_model_info_exits_2_with_one_line(tmp_path, suffix, content):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "model", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and str(path) in r.stderr and "Traceback" not in r.stderr, r.stderr


# ------------------------------------------------------- size limits, aliases


def test_an_onnx_file_over_the_limit_is_refused_before_onnxruntime_reads_it(tmp_path):
    big = tmp_path / "huge.onnx"
    with open(big, "wb") as f:
        f.truncate(model_file.MAX_ONNX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(BackendError) as e:
        create_backend("onnx", {"model": str(big)})
    assert str(e.value) == (
        f"backend 'onnx': {big}: the file is {model_file.MAX_ONNX_BYTES + 1} bytes, "
        f"over the limit of {model_file.MAX_ONNX_BYTES} bytes (1 GiB)"
    )


def test_a_yaml_description_over_the_limit_or_with_aliases_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (model_file.MAX_DESCRIPTION_BYTES // 10 + 1) + "state_dict: a.json\n")
    with pytest.raises(BackendError, match=r"big.yaml: the file is \d+ bytes, over the limit of 1048576 bytes"):
        create_backend("rtneural", {"model": str(big)})
    # a few lines of aliases would make the layer walk exponential ("billion laughs")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "state_dict: a.json\ninputs: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a]\nlayers: [*b]\n"
    )
    with pytest.raises(BackendError) as e:
        create_backend("rtneural", {"model": str(bomb)})
    assert str(e.value).startswith(f"backend 'rtneural': {bomb}: not a readable YAML file (line 4: aliases (*a)")


def test_read_text_reads_no_more_than_the_limit_even_from_a_pipe(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"head -c 5000 /dev/zero > {fifo}"])
    try:
        with pytest.raises(model_file.FileTooLarge, match="over the limit of 1000 bytes"):
            model_file.read_text(fifo, 1000)
    finally:
        writer.wait(10)
