"""The rtneural backend against RTNeural's own test models and reference outputs (../shared, read-only)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kelly_jack.backends import BackendError, create_backend

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "rtneural"
MODELS, DATA = CONFORMANCE / "models", CONFORMANCE / "test_data"

# RTNeural's own tolerances (tests/functional/test_configs.hpp): 1e-6, except 5e-6 for gru.json
KERAS = [("dense", 1e-6), ("conv", 1e-6), ("gru", 5e-6), ("gru_1d", 1e-6), ("lstm", 1e-6), ("lstm_1d", 1e-6)]

# CI always has shared/ beside the clone: there, missing data is a failure, not a skip
pytestmark = pytest.mark.skipif(
    not CONFORMANCE.is_dir() and os.environ.get("CI") != "true", reason="../shared/conformance is not beside the repo"
)


def load(name: str):
    return create_backend("rtneural", {"model": str(MODELS / f"{name}.json")})


def reference(name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.loadtxt(DATA / f"{name}_x_python.csv").reshape(-1, 1)
    y = np.loadtxt(DATA / f"{name}_y_python.csv").reshape(-1)
    return x, y


@pytest.mark.parametrize(("name", "tolerance"), KERAS)
def test_keras_models_match_reference_within_rtneurals_tolerance(name, tolerance):
    backend = load(name)
    x, y = reference(name)
    got = backend.model.forward_block(x)[:, 0]  # float64, as RTNeural's double tests
    error = float(np.max(np.abs(got - y)))
    print(f"{name}.json: max abs error {error:.3g} (tolerance {tolerance})")
    assert error <= tolerance


def test_conv2d_matches_reference_with_rtneurals_alignment():
    """conv2d_model_test.cpp: RTNeural frame 14+n against Keras frame 1+n, n < 36, all 8 outputs, tol 1e-6."""
    backend = load("conv2d")
    assert (backend.input_size, backend.output_size) == (23, 8)
    x = np.loadtxt(DATA / "conv2d_x_python.csv").reshape(50, 23)
    y = np.loadtxt(DATA / "conv2d_y_python.csv").reshape(39, 8)
    got = backend.model.forward_block(x)
    error = float(np.max(np.abs(got[14 : 14 + 36] - y[1 : 1 + 36])))
    print(f"conv2d.json: max abs error {error:.3g} (tolerance 1e-6)")
    assert error <= 1e-6
    backend.reset()  # streaming: frame by frame, and in two blocks, gives the same frames
    steps = np.concatenate([backend.model.forward_block(row[None, :]) for row in x])
    assert np.max(np.abs(steps - got)) < 1e-12
    backend.reset()
    split = np.concatenate([backend.model.forward_block(x[:3]), backend.model.forward_block(x[3:])])
    assert np.max(np.abs(split - got)) < 1e-12


def test_conv2d_same_padding_and_stride_follow_tensorflow(tmp_path):
    """A one-frame-kernel conv2d against a numpy cross-correlation with TF's 'same' padding."""
    rng = np.random.default_rng(1)
    n_feat, n_in, n_out, kf, stride = 7, 2, 3, 4, 2
    w, b = rng.standard_normal((2, kf, n_in, n_out)), rng.standard_normal(n_out)
    spec = {
        "type": "conv2d",
        "kernel_size_time": 2,
        "kernel_size_feature": kf,
        "dilation": 3,
        "strides": stride,
        "num_filters_in": n_in,
        "num_features_in": n_feat,
        "num_filters_out": n_out,
        "padding": "same",
        "weights": [w.tolist(), b.tolist()],
    }
    backend = create_backend("rtneural", {"model": write(tmp_path, [spec], (None, 9, n_feat, n_in))})
    x = rng.standard_normal((9, n_feat, n_in))
    got = backend.model.forward_block(x.reshape(9, -1)).reshape(9, 4, n_out)  # ceil(7/2) = 4 features
    padded = np.zeros((9 + 3, n_feat + 3, n_in))  # TF: 3 padding features, 1 left, 2 right; 3 zero frames first
    padded[3:, 1 : 1 + n_feat] = x
    for t in range(9):
        for fo in range(4):
            cols = slice(fo * stride, fo * stride + kf)
            window = np.stack([padded[t, cols], padded[t + 3, cols]])
            assert np.allclose(got[t, fo], np.einsum("ijc,ijco->o", window, w) + b, atol=1e-12)


def test_conv_stateless_is_a_whole_frame_valid_conv():
    """conv_stateless.json read in frame mode: one 128-sample frame -> 16 outputs (RTNeural's example data)."""
    backend = create_backend("rtneural", {"model": str(MODELS / "conv_stateless.json"), "mode": "frame"})
    assert (backend.input_size, backend.output_size) == (128, 16)
    x = np.loadtxt(DATA / "conv_stateless_x_python.csv").reshape(1, 128)
    y = np.loadtxt(DATA / "conv_stateless_y_python.csv")
    got = backend.model.forward_block(x)[0]
    error = float(np.max(np.abs(got - y)))
    print(f"conv_stateless.json (frame mode): max abs error {error:.3g} (tolerance 1e-6)")
    assert error <= 1e-6
    twice = backend.model.forward_block(np.vstack([x, x]))  # frames are independent: no state carried
    assert np.array_equal(twice[0], twice[1]) and np.array_equal(twice[0], got)
    assert backend.metadata["mode"] == "frame"


def test_conv_stateless_read_as_streaming_is_not_the_reference():
    """Why the mode must be chosen: the default streaming reading gives one output per sample, not 16."""
    backend = load("conv_stateless")
    assert (backend.input_size, backend.output_size) == (1, 1)


def test_frame_mode_refuses_what_it_cannot_run(tmp_path):
    layers = [{"type": "gru", "shape": [None, None, 1], "weights": [[[0.0] * 3], [[0.0] * 3], [0.0] * 3]}]
    with pytest.raises(BackendError, match=r"layer 0 \(gru\): not supported in frame mode"):
        create_backend("rtneural", {"model": write(tmp_path, layers, (None, 8, 1)), "mode": "frame"})
    with pytest.raises(BackendError, match="unknown mode 'batch'"):
        create_backend("rtneural", {"model": write(tmp_path, layers, (None, 8, 1)), "mode": "batch"})


@pytest.mark.parametrize("name", ["conv", "gru", "lstm"])
def test_streaming_step_by_step_equals_one_block(name):
    backend = load(name)
    x, _ = reference(name)
    whole = backend.model.forward_block(x)
    backend.reset()
    steps = np.concatenate([backend.model.forward_block(row[None, :]) for row in x])
    backend.reset()
    split = np.concatenate([backend.model.forward_block(x[:37]), backend.model.forward_block(x[37:])])
    assert np.array_equal(steps, whole) or np.max(np.abs(steps - whole)) < 1e-12
    assert np.max(np.abs(split - whole)) < 1e-12
    backend.reset()
    assert np.max(np.abs(backend.model.forward_block(x) - whole)) < 1e-12  # reset really resets


def test_infer_and_infer_block_follow_the_contract():
    backend = load("gru")
    x, y = reference("gru")
    out = np.array([backend.infer(row)[0] for row in x.astype(np.float32)])
    assert out.dtype == np.float32
    assert np.max(np.abs(out - y)) < 1e-5  # float32 in and out
    backend.reset()
    assert backend.infer_block(x).shape == (100, 1)
    assert backend.metadata["layers"] == "time-distributed-dense, gru, dense, dense"


def test_full_model_loads_and_runs():
    backend = load("full_model")
    x = np.loadtxt(DATA / "dense_x_python.csv").reshape(-1, 1)
    y = backend.infer_block(x)
    assert y.shape == (100, 1) and np.all(np.isfinite(y))


def test_bad_lstm_is_refused():
    with pytest.raises(BackendError) as e:
        load("bad_lstm")
    message = str(e.value)
    assert "bad_lstm.json: layer 0 (lstm): weights[0] (kernel) for 16 units: shape 1x80, expected 1x64" in message


def write(tmp_path, layers, in_shape=(None, 1)) -> str:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"in_shape": list(in_shape), "layers": layers}))
    return str(path)


DENSE = {"type": "dense", "activation": "", "shape": [None, 2], "weights": [[[1.0, 2.0]], [0.0, 0.0]]}
CONV2D = {
    "type": "conv2d",
    "kernel_size_time": 1,
    "kernel_size_feature": 2,
    "num_filters_in": 1,
    "num_features_in": 4,
    "padding": "valid",
    "weights": [[[[[1.0]], [[2.0]]]], [0.0]],
}


def test_conv2d_keys_may_be_one_entry_lists_as_rtneural_reads_them(tmp_path):
    spec = {**CONV2D, "kernel_size_feature": [2], "num_features_in": [4], "strides": [2]}
    backend = create_backend("rtneural", {"model": write(tmp_path, [spec], (None, 10, 4, 1))})
    assert backend.model.forward_block(np.array([[1.0, 2.0, 3.0, 4.0]])).tolist() == [[5.0, 11.0]]


@pytest.mark.parametrize(
    ("layers", "words"),
    [
        ([{**DENSE, "activation": "swish"}], "layer 0 (dense): unknown activation 'swish'"),
        ([DENSE, {"type": "attention", "weights": []}], "layer 1 (attention): unknown layer type 'attention'"),
        ([{**DENSE, "weights": [[[1.0, 2.0, 3.0]], [0.0]]}], "layer 0 (dense): weights[1] (bias): shape 1, expected 3"),
        ([{**DENSE, "shape": [None, 5]}], "layer 0 (dense): declares 5 outputs but its weights give 2"),
        ([DENSE, {"type": "batchnorm", "weights": [[1, 1], [1, 1]]}], "layer 1 (batchnorm): missing or bad 'epsilon'"),
        (
            [DENSE, {"type": "batchnorm", "epsilon": 0.1, "weights": [[1, 1]] * 3}],
            "expected 4 (gamma, beta, mean, var)",
        ),
        (
            [{**CONV2D, "padding": "causal"}],
            "layer 0 (conv2d): 'padding' must be 'valid' or 'same', got 'causal'",
        ),
        ([{**CONV2D, "num_features_in": 3}], "layer 0 (conv2d): num_features_in 3 x num_filters_in 1 != the 4 inputs"),
        ([{**CONV2D, "weights": [[[[[1.0]]]] * 2, [0.0]]}], "layer 0 (conv2d): weights[0] (kernel): shape 2x1x1x1"),
        ([{**DENSE, "weights": [[[1.0, float("nan")]]]}], "holds NaN or Inf"),
    ],
    ids=[
        "activation",
        "layer-type",
        "bias",
        "shape",
        "epsilon",
        "batchnorm-arrays",
        "conv2d-padding",
        "conv2d-features",
        "conv2d-kernel",
        "nan",
    ],
)
def test_bad_models_are_refused_with_the_layer_named(tmp_path, layers, words):
    in_shape = (None, 10, 4, 1) if layers[0]["type"] == "conv2d" else (None, 1)
    with pytest.raises(BackendError) as e:
        create_backend("rtneural", {"model": write(tmp_path, layers, in_shape)})
    assert words in str(e.value)
    assert str(e.value).startswith("backend 'rtneural': ")


def test_softmax_subtracts_the_max(tmp_path):
    layers = [{"type": "dense", "activation": "softmax", "shape": [None, 3], "weights": [[[1.0, 2.0, 3.0]], [0, 0, 0]]}]
    backend = create_backend("rtneural", {"model": write(tmp_path, layers)})
    y = backend.infer_block(np.array([[1000.0], [-1000.0]]))
    assert np.all(np.isfinite(y))
    assert np.allclose(y.sum(axis=1), 1.0)
    assert np.allclose(y[0], [0, 0, 1])


def test_gru_without_reset_after_matches_a_numpy_reference(tmp_path):
    rng = np.random.default_rng(0)
    n_in, n = 2, 3
    wk, wr, b = rng.standard_normal((n_in, 3 * n)), rng.standard_normal((n, 3 * n)), rng.standard_normal(3 * n)
    layers = [{"type": "gru", "shape": [None, None, n], "weights": [wk.tolist(), wr.tolist(), b.tolist()]}]
    backend = create_backend("rtneural", {"model": write(tmp_path, layers, (None, None, n_in))})
    x = rng.standard_normal((20, n_in))
    h = np.zeros(n)
    expected = []
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for row in x:  # Keras GRU, reset_after=False
        xz = row @ wk + b
        z = sig(xz[:n] + h @ wr[:, :n])
        r = sig(xz[n : 2 * n] + h @ wr[:, n : 2 * n])
        cand = np.tanh(xz[2 * n :] + (r * h) @ wr[:, 2 * n :])
        h = z * h + (1 - z) * cand
        expected.append(h)
    assert np.max(np.abs(backend.model.forward_block(x) - np.array(expected))) < 1e-12
