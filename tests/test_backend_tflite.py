"""The tflite backend on real TFLite files run by LiteRT: the shipped model, the writer, errors, the model CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kelly_jack.backends import BackendError, create_backend
from kelly_jack.backends.tflite.writer import tflite_bytes
from kelly_jack.offline.features_dump import dump_features

from support import recordings as rec
from support.jackd import ROOT
from support.scripts_main import script_main

MODELS = ROOT / "models"
TFLITE = ROOT / "tests" / "data" / "tflite"


def kelly(*args):
    return subprocess.run([sys.executable, "-m", "kelly_jack", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def music_rows(tmp_path_factory) -> np.ndarray:
    """Feature rows of real audio: a piano progression (fluidsynth), speech (espeak-ng), clicks, louder and softer."""
    tmp = tmp_path_factory.mktemp("music")
    audio = np.concatenate([rec.piano_progression(tmp), rec.speech(tmp), 0.1 * rec.clicks(3.0), rec.chords(3.0)])
    sf.write(tmp / "music.wav", audio.astype(np.float32), rec.RATE)
    dump_features(tmp / "music.wav", tmp / "rows.npy")
    rows = np.load(tmp / "rows.npy")
    assert len(rows) > 200
    return rows


def test_the_shipped_model_as_tflite_gives_the_onnx_outputs_within_1e_5(music_rows):
    tflite = create_backend("tflite", {"model": str(MODELS / "emotion.tflite")})
    onnx = create_backend("onnx", {"model": str(MODELS / "emotion.onnx")})
    assert tflite.recurrent and tflite.layout_version == onnx.layout_version == 5
    assert tflite.metadata["emotion_mapping"] == onnx.metadata["emotion_mapping"]
    worst = max(np.abs(tflite.infer(row) - onnx.infer(row)).max() for row in music_rows)
    assert worst <= 1e-5
    tflite.reset(), onnx.reset()
    assert np.abs(tflite.infer_block(music_rows[:50]) - onnx.infer_block(music_rows[:50])).max() <= 1e-5


def test_the_writer_computes_the_rtneural_backends_gru(tmp_path, music_rows):
    """An independent reading of the same weights: the rtneural backend (conformance-tested against RTNeural)."""
    rng = np.random.default_rng(5)
    doc = {
        "layers": [
            {"type": "dense", "activation": "tanh", "weights": [rng.normal(0, 0.1, (128, 12)), rng.normal(0, 0.1, 12)]},
            {
                "type": "gru",
                "activation": "tanh",
                "weights": [rng.normal(0, 0.4, (12, 18)), rng.normal(0, 0.4, (6, 18))],
            },
            {
                "type": "dense",
                "activation": "sigmoid",
                "weights": [rng.normal(0, 0.5, (6, 64)), rng.normal(0, 0.1, 64)],
            },
        ],
    }
    doc["layers"][1]["weights"].append(rng.normal(0, 0.1, (2, 18)))
    for layer, width in zip(doc["layers"], (12, 6, 64), strict=True):
        layer["shape"] = [None, None, width]
    doc = json.loads(json.dumps(doc, default=lambda a: a.tolist()))
    (tmp_path / "m.json").write_text(json.dumps({"in_shape": [None, None, 128], **doc}))
    (tmp_path / "m.tflite").write_bytes(tflite_bytes(doc))
    tflite = create_backend("tflite", {"model": str(tmp_path / "m.tflite")})
    rtneural = create_backend("rtneural", {"model": str(tmp_path / "m.json")})
    rows = music_rows[:120] / (1.0 + np.abs(music_rows[:120]))  # this random model has no standardisation
    assert np.abs(tflite.infer_block(rows) - rtneural.infer_block(rows)).max() <= 1e-5


def test_a_recurrent_model_carries_its_state_and_reset_forgets_it():
    backend = create_backend("tflite", {"model": str(TFLITE / "gru.tflite")})
    x = np.linspace(-1, 1, 128, dtype=np.float32)
    first, second = backend.infer(x), backend.infer(x)
    assert not np.allclose(first, second)
    backend.reset()
    assert np.array_equal(backend.infer(x), first)
    stateless = create_backend("tflite", {"model": str(TFLITE / "dense.tflite")})
    assert not stateless.recurrent and np.array_equal(stateless.infer(x), stateless.infer(x))
    assert stateless.layout_version == 5 and stateless.metadata["parameters"] == 128 * 64 + 64


def test_the_committed_tflite_files_are_what_the_script_writes():
    assert script_main("make_tflite_models")(["--check"]) == 0


@pytest.mark.parametrize(
    ("make", "options", "words"),
    [
        (lambda p: p.write_bytes((TFLITE / "wide_input.tflite").read_bytes()), {}, "has shape [1, 100], expected"),
        (lambda p: p.write_bytes(b"\0" * 64), {}, "not a TFLite model"),
        (lambda p: p.write_bytes((TFLITE / "dense.tflite").read_bytes()[:4000]), {}, "tflite"),
        (lambda p: None, {}, "no such file"),
        (lambda p: p.write_bytes((TFLITE / "dense.tflite").read_bytes()), {"input": "x"}, "no input named 'x'"),
        (lambda p: p.write_bytes((TFLITE / "dense.tflite").read_bytes()), {"xnnpack": "yes"}, "xnnpack"),
        (
            lambda p: p.write_bytes(tflite_bytes({**json.loads(_dense_doc()), "kelly_jack.state": [["h", "h_out"]]})),
            {},
            "kelly_jack.state names input 'h', which the graph does not have",
        ),
        (lambda p: p.write_bytes(tflite_bytes(json.loads(_dense_doc(outputs=10)))), {}, "expected 64 float32"),
    ],
)
def test_bad_models_are_one_line_errors_naming_the_file(tmp_path, make, options, words):
    path = tmp_path / "m.tflite"
    make(path)
    with pytest.raises(BackendError) as e:
        create_backend("tflite", {"model": str(path), **options})
    message = str(e.value)
    assert "\n" not in message and words in message
    assert "'tflite'" in message and ("m.tflite" in message or "xnnpack" in message)


def _dense_doc(outputs: int = 64) -> str:
    w = np.full((128, outputs), 0.01)
    return json.dumps({"layers": [{"type": "dense", "activation": "", "weights": [w.tolist(), [0.0] * outputs]}]})


def test_without_ai_edge_litert_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails as if not installed
    with pytest.raises(BackendError, match=r"pip install 'kelly-jack\[tflite\]'"):
        create_backend("tflite", {"model": str(TFLITE / "dense.tflite")})


def test_the_writer_refuses_what_it_cannot_write():
    with pytest.raises(ValueError, match=r"layer 0 \(lstm\)"):
        tflite_bytes({"layers": [{"type": "lstm", "weights": [[[0.0]]]}]})
    with pytest.raises(ValueError, match="activation 'elu'"):
        tflite_bytes({"layers": [{"type": "dense", "activation": "elu", "weights": [[[0.0]], [0.0]]}]})


def test_model_info_and_run_take_tflite_files(tmp_path, music_rows):
    info = kelly("model", "info", str(MODELS / "emotion.tflite"))
    assert info.returncode == 0, info.stderr
    assert "name: tflite" in info.stdout and "recurrent: True" in info.stdout and "layout_version: 5" in info.stdout
    np.save(tmp_path / "x.npy", music_rows[:40])
    for model in ("emotion.tflite", "emotion.onnx"):
        r = kelly(
            "model",
            "run",
            str(MODELS / model),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / f"{model}.npy"),
        )
        assert r.returncode == 0, r.stderr
    assert np.abs(np.load(tmp_path / "emotion.tflite.npy") - np.load(tmp_path / "emotion.onnx.npy")).max() <= 1e-5


def test_a_config_can_select_the_shipped_tflite_model(tmp_path):
    """``model: default`` names the shipped emotion.tflite, and the engine renders a file with it."""
    (tmp_path / "k.yaml").write_text("backend:\n  name: tflite\n  model: default\n")
    sf.write(tmp_path / "in.wav", rec.chords(3.0).astype(np.float32), rec.RATE)
    r = kelly("render", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.mid"), "--config", str(tmp_path / "k.yaml"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.mid").stat().st_size > 0


def test_a_tflite_model_that_hears_audio_runs_in_the_inference_thread(tmp_path):
    """Metadata kelly_jack.input: audio (rate, window, hop) and output: valence_arousal; DC in, its mean out."""
    from kelly_jack.engine.state import SharedState
    from kelly_jack.inference import InferenceThreadManager
    from kelly_jack.rt.shared_state import R_AROUSAL, R_VALENCE

    from support.rings import audio_period, results

    w = np.zeros((1600, 2))
    w[:, 0] = 1.0 / 1600  # valence: the window's mean
    doc = {
        "layers": [{"type": "dense", "activation": "", "weights": [w.tolist(), [0.0, 0.5]]}],
        "kelly_jack.input": "audio",
        "kelly_jack.output": "valence_arousal",
        "kelly_jack.sample_rate": 16000,
        "kelly_jack.window": 1600,
        "kelly_jack.hop": 800,
    }
    (tmp_path / "a.tflite").write_bytes(tflite_bytes(doc))
    backend = create_backend("tflite", {"model": str(tmp_path / "a.tflite")})
    assert (backend.input_kind, backend.audio_rate, backend.audio_window, backend.audio_hop) == (
        "audio",
        16000,
        1600,
        800,
    )
    assert (backend.output_kind, backend.output_size) == ("valence_arousal", 2)
    state = SharedState(1, audio_frames=1 << 14)
    m = InferenceThreadManager(state, backend, 2048, 1024, -1, -1)
    m._resync()
    for _ in range(40):
        audio_period(state, np.full((1, 256), 0.25, dtype=np.float32))
        while m.process_available():
            pass
    rows = results(state)
    assert rows and rows[-1][R_VALENCE] == pytest.approx(0.25, abs=1e-3) and rows[-1][R_AROUSAL] == pytest.approx(0.5)
    doc["kelly_jack.hop"] = None
    del doc["kelly_jack.hop"]
    (tmp_path / "b.tflite").write_bytes(tflite_bytes(doc))
    with pytest.raises(BackendError, match="needs kelly_jack.sample_rate, window and hop"):
        create_backend("tflite", {"model": str(tmp_path / "b.tflite")})


def test_feature_backends_refuse_a_model_that_declares_audio_input(tmp_path):
    doc = json.loads((MODELS / "emotion.rtneural.json").read_text())
    doc["kelly_jack.input"] = "audio"
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(BackendError, match="kelly_jack.input: 'audio': this backend runs features models"):
        create_backend("rtneural", {"model": str(tmp_path / "m.json")})
