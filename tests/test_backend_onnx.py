"""The onnx backend on real ONNX files run by onnxruntime, and the model CLI over it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import pytest

from kelly_jack.backends import BackendError, create_backend

from support.jackd import ROOT
from support.onnx_models import dense_tanh, heavy, two_inputs

RNG = np.random.default_rng(3)
W = RNG.standard_normal((128, 64)).astype(np.float32) / 8
B = RNG.standard_normal(64).astype(np.float32)


def reference(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64) @ W + B)


@pytest.mark.parametrize("batch", ["N", 1, None], ids=["dynamic-batch", "batch-1", "vector"])
def test_outputs_match_numpy(tmp_path, batch):
    model = dense_tanh(tmp_path / "m.onnx", W, B, batch=batch)
    backend = create_backend("onnx", {"model": str(model)})
    x = RNG.standard_normal((10, 128)).astype(np.float32)
    for row in x:
        assert np.allclose(backend.infer(row), reference(row), atol=1e-5)
    assert np.allclose(backend.infer_block(x), reference(x), atol=1e-5)
    assert backend.output_size == 64


def test_session_settings_and_metadata(tmp_path):
    mapping = np.arange(3 * 64).reshape(3, 64).tolist()
    model = dense_tanh(tmp_path / "m.onnx", W, B, kelly_jack__layout_version="0", kelly_jack__emotion_mapping=mapping)
    backend = create_backend("onnx", {"model": str(model)})
    assert backend.metadata["layout_version"] == 0
    assert backend.metadata["emotion_mapping"] == mapping
    assert backend.metadata["parameters"] == 128 * 64 + 64
    options = backend.session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


@pytest.mark.parametrize(
    ("make", "options", "words"),
    [
        (lambda p: dense_tanh(p, W[:100], B, inputs=100), {}, "has shape ['N', 100], expected [128] or [batch, 128]"),
        (lambda p: dense_tanh(p, W[:, :10], B[:10]), {}, "expected 64 values per step"),
        (lambda p: dense_tanh(p, W, B, batch=4), {}, "fixed batch of 4"),
        (two_inputs, {}, "has 2 inputs (a, b); name one with backend.input"),
        (lambda p: dense_tanh(p, W, B), {"input": "nope"}, "no input named 'nope' (has features)"),
        (lambda p: p.write_bytes(b"not a model") and p, {}, "onnxruntime cannot load it"),
        (lambda p: dense_tanh(p, W, B), {"providers": ["NoSuchExecutionProvider"]}, "is not available"),
        (lambda p: p.parent / "missing.onnx", {}, "missing.onnx: no such file"),
    ],
    ids=["inputs", "outputs", "batch", "two-inputs", "input-name", "garbage", "provider", "missing"],
)
def test_load_errors_name_backend_file_and_problem(tmp_path, make, options, words):
    path = make(tmp_path / "m.onnx")
    with pytest.raises(BackendError) as e:
        create_backend("onnx", {"model": str(path), **options})
    assert str(e.value).startswith("backend 'onnx': ")
    assert str(path) in str(e.value)
    assert words in str(e.value)


def test_run_releases_the_gil(tmp_path):
    backend = create_backend("onnx", {"model": str(heavy(tmp_path / "heavy.onnx"))})
    x = np.ones(128, dtype=np.float32)
    t = time.perf_counter()
    backend.infer(x)
    alone = time.perf_counter() - t
    worker = threading.Thread(target=backend.infer, args=(x,))
    count = 0
    worker.start()
    while worker.is_alive():
        count += 1  # plain Python: runs only while onnxruntime does not hold the GIL
    worker.join()
    assert alone > 0.05, "the model should take long enough to tell"
    assert count > 10_000, f"only {count} Python steps during a {alone:.2f} s run"


def kelly(*args):
    return subprocess.run([sys.executable, "-m", "kelly_jack", *args], capture_output=True, text=True, cwd=ROOT)


def test_model_info_and_run(tmp_path):
    model = dense_tanh(tmp_path / "m.onnx", W, B)
    info = kelly("model", "info", str(model))
    assert info.returncode == 0, info.stderr
    assert "input size: 128" in info.stdout and "output size: 64" in info.stdout
    assert f"parameters: {128 * 64 + 64}" in info.stdout
    x = RNG.standard_normal((7, 128)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    for src, dst in (("x.npy", "y.npy"), ("x.csv", "y.csv")):
        r = kelly("model", "run", str(model), "--input", str(tmp_path / src), "--output", str(tmp_path / dst))
        assert r.returncode == 0, r.stderr
        y = np.load(tmp_path / dst) if dst.endswith(".npy") else np.loadtxt(tmp_path / dst, delimiter=",")
        assert np.allclose(y, reference(x), atol=1e-5)


def test_model_run_errors_leave_nothing_behind(tmp_path):
    model = dense_tanh(tmp_path / "m.onnx", W, B)
    np.save(tmp_path / "bad.npy", np.zeros((3, 100), dtype=np.float32))
    r = kelly("model", "run", str(model), "--input", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "y.npy"))
    assert r.returncode == 2
    assert "bad.npy: shape (3, 100), expected (steps, 128)" in r.stderr
    assert not (tmp_path / "y.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "m.onnx"]
    r = kelly("model", "info", str(tmp_path / "m.bin"))
    assert r.returncode == 2 and "use --backend" in r.stderr
