"""The fused plan (one jitted call per block) against the per-layer reference kernels, and vecmath against libm."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numba
import numpy as np
import pytest

from kelly_jack.backends import BackendError, create_backend
from kelly_jack.backends.rtneural import fused, vecmath
from kelly_jack.backends.rtneural.model import Model, load_model

RNG = np.random.default_rng(11)


@numba.njit(error_model="numpy")
def _apply(fn_code, x, out):
    for i in range(x.shape[0]):
        if fn_code == 0:
            out[i] = vecmath.exp(x[i])
        elif fn_code == 1:
            out[i] = vecmath.tanh(x[i])
        else:
            out[i] = vecmath.sigmoid(x[i])


def _vec(code: int, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _apply(code, x, out)
    return out


def test_vecmath_matches_libm():
    x = np.concatenate([np.linspace(-720, 720, 100_001), np.linspace(-6, 6, 100_001), [0.0, -0.0, 1e-300, -1e-12]])
    clipped = np.clip(x, -708, 708)
    assert np.max(np.abs(_vec(0, x) / np.exp(clipped) - 1)) < 1e-15
    assert np.max(np.abs(_vec(1, x) - np.tanh(x))) < 1e-15
    assert np.max(np.abs(_vec(2, x) - 1 / (1 + np.exp(-clipped)))) < 1e-15


def test_vecmath_saturates_and_keeps_nan():
    x = np.array([np.inf, -np.inf, np.nan])
    assert list(_vec(1, x)[:2]) == [1.0, -1.0] and np.isnan(_vec(1, x)[2])
    s = _vec(2, x)
    assert s[0] == 1.0 and 0.0 <= s[1] < 1e-300 and np.isnan(s[2])
    e = _vec(0, x)
    assert np.isfinite(e[0]) and e[1] < 1e-300 and np.isnan(e[2])


def _w(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).tolist()


def _dense(n_in, n_out, act=""):
    return {"type": "dense", "activation": act, "shape": [None, n_out], "weights": [_w(n_in, n_out), _w(n_out)]}


def _conv(n_in, n_out, k, d, groups=1, act="tanh"):
    return {
        "type": "conv1d",
        "activation": act,
        "shape": [None, None, n_out],
        "kernel_size": [k],
        "dilation": [d],
        "groups": groups,
        "weights": [_w(k, n_in // groups, n_out), _w(n_out)],
    }


def _gru(n_in, n, reset_after=True):
    bias = _w(2, 3 * n) if reset_after else _w(3 * n)
    return {
        "type": "gru",
        "activation": "tanh",
        "shape": [None, None, n],
        "weights": [_w(n_in, 3 * n), _w(n, 3 * n), bias],
    }


def _lstm(n_in, n):
    return {
        "type": "lstm",
        "activation": "tanh",
        "shape": [None, None, n],
        "weights": [_w(n_in, 4 * n), _w(n, 4 * n), _w(4 * n)],
    }


MODELS = {
    "dense-small-in": (3, [_dense(3, 20, "relu"), _dense(20, 5, "sigmoid")]),
    "dense-wide": (40, [_dense(40, 33, "tanh"), _dense(33, 7, "softmax")]),
    "activations": (6, [_dense(6, 6), {"type": "activation", "activation": "elu", "shape": [None, 6], "weights": []}]),
    "batchnorm-prelu": (
        4,
        [
            _dense(4, 5),
            {
                "type": "batchnorm",
                "epsilon": 1e-3,
                "shape": [None, 5],
                "weights": [_w(5), _w(5), _w(5), np.abs(_w(5)).tolist()],
            },
            {"type": "prelu", "activation": "", "shape": [None, 5], "weights": [_w(1, 5)]},
        ],
    ),
    "conv-stack": (
        2,
        [_conv(2, 6, 3, 1), _conv(6, 6, 3, 4, groups=2, act="relu"), _conv(6, 5, 1, 1, act=""), _dense(5, 1)],
    ),
    "conv-long-history": (1, [_conv(1, 4, 5, 40), _dense(4, 2)]),
    "gru": (2, [_gru(2, 8), _dense(8, 1)]),
    "gru-no-reset-after": (3, [_gru(3, 5, reset_after=False), _dense(5, 2)]),
    "lstm": (1, [_lstm(1, 16), _dense(16, 1)]),
    "lstm-gru-stack": (5, [_dense(5, 7, "tanh"), _lstm(7, 6), _gru(6, 9), _dense(9, 3)]),
}


def _pair(tmp_path, name):
    n_in, layers = MODELS[name]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"in_shape": [None, None, n_in], "layers": layers}))
    fast = load_model(path)
    ref = load_model(path)
    return fast, Model(ref.layers, ref.input_size, ref.kinds, fused=False), n_in


@pytest.mark.parametrize("name", list(MODELS))
def test_fused_equals_reference_across_block_boundaries(tmp_path, name):
    fast, ref, n_in = _pair(tmp_path, name)
    assert [type(s).__name__ for s in fast.stages] == ["Plan"]  # every layer type here is covered
    x = RNG.uniform(-2, 2, (400, n_in))
    expected = ref.forward_block(x)
    # uneven blocks, one longer than fused.CHUNK and ending mid-chunk, and single steps
    cuts = [0, 1, 8, 8 + fused.CHUNK + 33, 300, 301, 400]
    got = np.concatenate([fast.forward_block(x[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)])
    assert np.max(np.abs(got - expected)) < 1e-12
    fast.reset()
    ref.reset()
    again = np.stack([fast.infer(row.astype(np.float32)) for row in x[:50]])
    assert again.dtype == np.float32
    assert np.max(np.abs(again - ref.forward_block(x[:50].astype(np.float32)))) < 1e-6  # float32 out


def test_a_layer_the_plan_does_not_cover_runs_in_between(tmp_path):
    class Double:  # a layer type from elsewhere (e.g. another plugin's module), unknown to the plan
        out_size = 8

        def reset(self):
            pass

        def forward_block(self, x):
            return 2.0 * x

    fast, ref, n_in = _pair(tmp_path, "gru")
    layers = [fast.layers[0], Double(), *fast.layers[1:]]
    mixed = Model(layers, n_in, ["gru", "double", "dense"])
    assert [type(s).__name__ for s in mixed.stages] == ["Plan", "Double", "Plan"]
    x = RNG.uniform(-1, 1, (50, n_in))
    h = ref.layers[0].forward_block(x)
    expected = ref.layers[1].forward_block(2.0 * h)
    assert np.max(np.abs(mixed.forward_block(x) - expected)) < 1e-12
    assert mixed.infer(x[0].astype(np.float32)).dtype == np.float32


def test_infer_accepts_any_numeric_vector_and_refuses_a_wrong_size(tmp_path):
    fast, ref, n_in = _pair(tmp_path, "dense-small-in")
    want = ref.forward_block(np.array([[1.0, 2.0, 3.0]]))[0]
    strided = np.arange(1.0, 4.0).repeat(2)[::2]
    for x in ([1, 2, 3], np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0], np.float32), strided):
        y = fast.infer(x)
        assert y.dtype == np.float32 and y.shape == (5,)
        assert np.max(np.abs(y - want)) < 1e-6
    with pytest.raises(ValueError, match="wrong number of features"):
        fast.infer(np.zeros(4, np.float32))
    with pytest.raises(ValueError):
        fast.infer_block(np.zeros((3, 4)))


def test_reset_clears_the_fused_state(tmp_path):
    fast, _, n_in = _pair(tmp_path, "lstm-gru-stack")
    x = RNG.uniform(-1, 1, (20, n_in))
    first = fast.infer_block(x)
    assert not np.array_equal(fast.infer_block(x), first)  # state carried
    fast.reset()
    assert np.array_equal(fast.infer_block(x), first)


def test_plan_refuses_layers_it_does_not_cover():
    class Other:
        out_size = 1

    assert not fused.covers(Other())
    with pytest.raises(TypeError, match="Other layers are not covered"):
        fused.Plan([Other()], 1)


@pytest.mark.parametrize("name", ["dense-wide", "conv-stack", "gru", "gru-no-reset-after", "lstm-gru-stack"])
def test_float32_precision_stays_close_to_the_float64_reference(tmp_path, name):
    fast, ref, n_in = _pair(tmp_path, name)
    single = Model(fast.layers, n_in, fast.kinds, precision="float32")
    assert single.stages[0].weights.dtype == np.float32 and single.stages[0].mem.dtype == np.float32
    x = RNG.uniform(-2, 2, (300, n_in))
    expected = ref.forward_block(x)
    got = np.concatenate([single.forward_block(x[:170]), single.forward_block(x[170:])])
    error = np.max(np.abs(got - expected))
    assert 0 < error < 1e-5  # float32 rounding, not float64's agreement


CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "rtneural"


@pytest.mark.skipif(
    not CONFORMANCE.is_dir() and os.environ.get("CI") != "true", reason="../shared/conformance is not beside the repo"
)
@pytest.mark.parametrize(("name", "tolerance"), [("dense", 1e-6), ("conv", 1e-6), ("gru", 5e-6), ("lstm_1d", 1e-6)])
def test_float32_precision_passes_rtneurals_conformance_too(name, tolerance):
    model = str(CONFORMANCE / "models" / f"{name}.json")
    backend = create_backend("rtneural", {"model": model, "precision": "float32"})
    x = np.loadtxt(CONFORMANCE / "test_data" / f"{name}_x_python.csv").reshape(-1, 1)
    y = np.loadtxt(CONFORMANCE / "test_data" / f"{name}_y_python.csv").reshape(-1)
    error = float(np.max(np.abs(backend.model.forward_block(x)[:, 0] - y)))
    print(f"{name}.json float32: max abs error {error:.3g} (tolerance {tolerance})")
    assert error <= tolerance
    assert backend.metadata["precision"] == "float32"


def test_an_unknown_precision_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"in_shape": [None, 3], "layers": MODELS["dense-small-in"][1]}))
    with pytest.raises(BackendError, match="backend.precision 'float16' is not one of float64, float32"):
        create_backend("rtneural", {"model": str(path), "precision": "float16"})


def test_warm_up_leaves_a_reset_model(tmp_path):
    fast, _, n_in = _pair(tmp_path, "lstm-gru-stack")
    x = RNG.uniform(-1, 1, (20, n_in))
    first = fast.infer_block(x)
    fast.infer_block(x)
    fast.warm_up()
    assert np.array_equal(fast.infer_block(x), first)
