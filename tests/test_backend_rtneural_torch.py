"""The rtneural backend on RTNeural's PyTorch state_dict references, read through architecture descriptions.

The descriptions are in tests/data/rtneural/; they name the state_dicts in
../shared/conformance/rtneural/models (read-only, never copied into the repo).
Crops and tolerances are those of RTNeural's own torch tests (see the MANIFEST).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kelly_jack.backends import BackendError, create_backend

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = ROOT / "tests" / "data" / "rtneural"
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "rtneural"
MODELS, DATA = CONFORMANCE / "models", CONFORMANCE / "test_data"

pytestmark = pytest.mark.skipif(
    not CONFORMANCE.is_dir() and os.environ.get("CI") != "true", reason="../shared/conformance is not beside the repo"
)


def load(name: str):
    return create_backend("rtneural", {"model": str(DESCRIPTIONS / f"{name}.yaml")})


def csv(name: str) -> np.ndarray:
    return np.loadtxt(DATA / name, delimiter=",", ndmin=2)


# (description, input csv, output csv, first streaming step compared, step between outputs); outputs that
# are channels x time are transposed. Tolerance 1e-6 everywhere, as in RTNeural's torch tests.
TORCH = [
    ("gru_torch", "gru_torch_x_python.csv", "gru_torch_y_python.csv", 0, 1),
    ("lstm_torch", "lstm_torch_x_python.csv", "lstm_torch_y_python.csv", 0, 1),
    ("conv1d_torch", "conv1d_torch_x_python.csv", "conv1d_torch_y_python.csv", 4, 1),
    (
        "conv1d_torch_group_6_3_3_1_3",
        "conv1d_torch_group_x_python.csv",
        "conv1d_torch_group_y_python_6_3_3_1_3.csv",
        2,
        1,
    ),
    (
        "conv1d_torch_group_6_3_4_10_3",
        "conv1d_torch_group_x_python.csv",
        "conv1d_torch_group_y_python_6_3_4_10_3.csv",
        30,
        1,
    ),
    (
        "conv1d_torch_group_6_6_1_1_6",
        "conv1d_torch_group_x_python.csv",
        "conv1d_torch_group_y_python_6_6_1_1_6.csv",
        0,
        1,
    ),
    ("conv1d_torch_stride_3", "conv1d_torch_x_python_stride_3.csv", "conv1d_torch_y_python_stride_3.csv", 4, 3),
    ("microtcn", "microtcn_x.csv", "microtcn_y.csv", 30, 1),
]


def reference(x_file: str, y_file: str, inputs: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = csv(x_file), csv(y_file)
    x = x if x.shape[1] == inputs else x.reshape(-1, inputs)  # one sample per line, or time x channels
    y = y.T if y.shape[0] == outputs and outputs > 1 else y.reshape(-1, outputs)  # channels x time
    return x, y


@pytest.mark.parametrize(("name", "x_file", "y_file", "start", "every"), TORCH, ids=[t[0] for t in TORCH])
def test_torch_models_match_reference_within_rtneurals_tolerance(name, x_file, y_file, start, every):
    backend = load(name)
    x, y = reference(x_file, y_file, backend.input_size, backend.output_size)
    got = backend.model.forward_block(x)[start::every]
    assert got.shape[0] >= y.shape[0]
    error = float(np.max(np.abs(got[: y.shape[0]] - y)))
    print(f"{name}: max abs error {error:.3g} over {y.shape} (tolerance 1e-6)")
    assert error <= 1e-6


@pytest.mark.parametrize(("suffix", "offset"), [("", 3), ("_cc", 0)])
def test_conv_transpose1d_on_a_zero_stuffed_input(suffix, offset):
    """torch_convtranspose1d_test: stride 3, padding 3; torch's output n is step n + padding (tol 2e-5).

    The cached_conv ("_cc") reference is streaming already: its output n is step n.
    """
    backend = load("convtranspose1d_torch")
    x, y = csv(f"convtranspose1d_torch_x_python{suffix}.csv").T, csv(f"convtranspose1d_torch_y_python{suffix}.csv").T
    stuffed = np.zeros((x.shape[0] * 3, 4))
    stuffed[::3] = x
    got = backend.model.forward_block(stuffed)[offset : offset + y.shape[0]]
    error = float(np.max(np.abs(got - y)))
    print(f"convtranspose1d_torch{suffix}: max abs error {error:.3g} (tolerance 2e-5)")
    assert got.shape == y.shape and error <= 2e-5


@pytest.mark.parametrize("name", ["microtcn", "conv1d_torch_stride_3", "gru_torch"])
def test_streaming_in_odd_blocks_equals_one_block(name):
    backend = load(name)
    x = np.random.default_rng(2).uniform(-1, 1, (100, backend.input_size))
    whole = backend.model.forward_block(x)
    backend.reset()
    parts = [backend.model.forward_block(x[a:b]) for a, b in [(0, 1), (1, 5), (5, 6), (6, 50), (50, 100)]]
    assert np.max(np.abs(np.concatenate(parts) - whole)) < 1e-12
    backend.reset()
    assert np.array_equal(backend.model.forward_block(x), whole)


def test_strided_conv_holds_each_output_for_stride_steps():
    backend = load("conv1d_torch_stride_3")
    y = backend.model.forward_block(np.random.default_rng(3).standard_normal((40, 1)))
    assert np.all(y[:4] == 0.0)  # before the first full window
    for m in range(11):
        assert np.array_equal(y[4 + 3 * m], y[5 + 3 * m]) and np.array_equal(y[4 + 3 * m], y[6 + 3 * m])
        assert not np.array_equal(y[4 + 3 * m], y[7 + 3 * m])


def test_metadata_shows_the_layers_and_parameters():
    meta = load("microtcn").metadata
    assert meta["layers"] == "sum(conv1d, batchnorm, prelu | conv1d)"
    # conv1 32x4 (+ zero bias 32), batchnorm scale and shift 2x32, prelu 32, res 32 (+ zero bias 32)
    assert meta["parameters"] == 128 + 32 + 64 + 32 + 32 + 32
    gru = load("gru_torch")
    assert gru.metadata["layers"] == "gru, gru, gru, gru, dense"
    assert gru.metadata["parameters"] == (24 + 192 + 48) + 3 * (192 + 192 + 48) + 9  # torch's own count
    assert (gru.input_size, gru.output_size) == (1, 1)


def test_model_info_cli_reads_a_description():
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "model", "info", str(DESCRIPTIONS / "lstm_torch.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert "layers: lstm, lstm, lstm, lstm, dense" in r.stdout
    assert "parameters: 1961" in r.stdout and "input size: 1" in r.stdout and "mode: stream" in r.stdout
    assert "sizes: 1 -> 8 -> 8 -> 8 -> 8 -> 1" in r.stdout


def test_a_description_can_choose_frame_mode_for_a_keras_file():
    backend = load("conv_stateless")
    assert (backend.input_size, backend.output_size, backend.metadata["mode"]) == (128, 16, "frame")
    y = np.loadtxt(DATA / "conv_stateless_y_python.csv")
    got = backend.model.forward_block(np.loadtxt(DATA / "conv_stateless_x_python.csv").reshape(1, 128))[0]
    assert np.max(np.abs(got - y)) <= 1e-6
    with pytest.raises(BackendError, match="the description says mode 'frame' but the backend option says 'stream'"):
        create_backend("rtneural", {"model": str(DESCRIPTIONS / "conv_stateless.yaml"), "mode": "stream"})


GRU_LAYERS = [{"type": "gru", "prefix": "gru"}, {"type": "gru", "prefix": "gru2", "num_layers": 3}]
DENSE = {"type": "dense", "prefix": "dense"}


@pytest.mark.parametrize(
    ("description", "words"),
    [
        (
            {"inputs": 1, "layers": [GRU_LAYERS[0], {"type": "gru", "prefix": "gru3"}, DENSE]},
            "layers[1] (gru 'gru3'): missing parameter 'gru3.weight_hh_l0' in gru_torch.json",
        ),
        (
            {"inputs": 2, "layers": [*GRU_LAYERS, DENSE]},
            "layers[0] (gru 'gru'): gru.weight_ih_l0 (gru_torch.json): shape 24x1, expected 24x2",
        ),
        (
            {"inputs": 1, "layers": [GRU_LAYERS[0], {**GRU_LAYERS[1], "num_layers": 4}, DENSE]},
            "missing parameter 'gru2.weight_hh_l3' in gru_torch.json",
        ),
        (
            {"inputs": 1, "layers": GRU_LAYERS},
            "parameters no layer uses (missing from 'layers'?): dense.weight, dense.bias",
        ),
        (
            {"inputs": 1, "layers": [{"type": "lstm", "prefix": "gru"}]},
            "layers[0] (lstm 'gru'): gru.weight_hh_l0 (gru_torch.json): shape 24x8, expected 32x8",
        ),
        (
            {"inputs": 1, "layers": [*GRU_LAYERS, {**DENSE, "activaton": "tanh"}]},
            "layers[2] (dense 'dense'): unknown key(s) activaton",
        ),
        (
            {"inputs": 1, "layers": [*GRU_LAYERS, {**DENSE, "activation": "swish"}]},
            "layers[2] (dense 'dense'): unknown activation 'swish'",
        ),
        ({"inputs": 1, "layers": [{"type": "transformer"}]}, "layers[0] (transformer): unknown layer type"),
        ({"layers": [DENSE]}, "missing 'inputs'"),
        ({"inputs": 1, "layers": [DENSE], "mode": "frame"}, "mode 'frame' is for Keras-format models"),
        (
            {"inputs": 1, "layers": [{"type": "sum", "branches": [GRU_LAYERS, []]}, DENSE]},
            "layers[0] (sum): branches give different sizes [8, 1]",
        ),
    ],
    ids=[
        "prefix",
        "inputs",
        "num-layers",
        "unused",
        "lstm-for-gru",
        "key",
        "activation",
        "type",
        "no-inputs",
        "frame",
        "sum-sizes",
    ],
)
def test_bad_descriptions_name_the_layer_parameter_and_file(tmp_path, description, words):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({"state_dict": str(MODELS / "gru_torch.json"), **description}))
    with pytest.raises(BackendError) as e:
        create_backend("rtneural", {"model": str(path)})
    assert words in str(e.value)
    assert str(e.value).startswith(f"backend 'rtneural': {path}: ")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("state_dict: nowhere.json\ninputs: 1\nlayers: []\n", "state_dict nowhere.json: no such file"),
        (f"state_dict: {MODELS / 'gru.json'}\ninputs: 1\nlayers: []\n", "state_dict gru.json: not a PyTorch"),
        ("layers: [unclosed\n", "not a readable YAML file"),
        ("state_dict: a.json\nlayer: []\n", "unknown key(s) layer"),
        (f"keras: {MODELS / 'gru_torch.json'}\n", "gru_torch.json: not an RTNeural Keras-format model"),
    ],
    ids=["missing-file", "keras-as-state-dict", "yaml", "top-key", "state-dict-as-keras"],
)
def test_bad_description_files(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BackendError, match="^backend 'rtneural': ") as e:
        create_backend("rtneural", {"model": str(path)})
    assert words in str(e.value)


def test_a_state_dict_given_as_a_model_points_at_descriptions():
    with pytest.raises(BackendError, match="a PyTorch state_dict needs an architecture description"):
        create_backend("rtneural", {"model": str(MODELS / "gru_torch.json")})


def test_each_model_file_is_read_once_at_load(monkeypatch):
    """The backend takes the model's kelly_jack.* metadata from the same parse as its layers."""
    from kelly_jack.backends import model_file

    reads = []
    read_text = model_file.read_text
    monkeypatch.setattr(
        model_file, "read_text", lambda path, limit: reads.append(Path(path).name) or read_text(path, limit)
    )
    assert load("gru_torch").metadata["layers"] == "gru, gru, gru, gru, dense"
    assert reads == ["gru_torch.yaml", "gru_torch.json"]  # the description, then the state_dict it names
    reads.clear()
    create_backend("rtneural", {"model": str(MODELS / "gru.json")})
    assert reads == ["gru.json"]
