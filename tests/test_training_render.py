"""The corpus renderer with fluidsynth, the trainer and evaluator scripts on a tiny corpus, and the shipped models."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kelly_jack.backends import create_backend
from kelly_jack.config import backend_options, load_config
from kelly_jack.io import read_audio
from kelly_jack.rt import features as extractor
from kelly_jack.training import corpus, instruments, pipeline
from kelly_jack.training.dataset import corpus_items, item_features
from kelly_jack.training.evaluate import evaluate, load_backend
from kelly_jack.training.features import ANALYSIS_RATE, HOP, WINDOW
from kelly_jack.training.mlp import TrainConfig
from kelly_jack.training.music import midi_bytes, notes

from support.scripts_main import script_main

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Ten random 3 s clips and one contrast pair per cue, rendered with TimGM6mb."""
    try:
        corpus.fluidsynth_path()
        corpus.soundfont_path("timgm6mb")
    except corpus.CorpusError as e:
        pytest.fail(f"{e} (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("corpus")
    args = [str(out), "--clips", "10", "--contrasts", "1", "--seconds", "3", "--seed", "4", "--soundfont", "timgm6mb"]
    args += ["--style", "melody"]  # the shipped model's corpus; tests/test_corpus_arrangement.py has the other
    assert script_main("make_corpus")(args) == 0
    return out


def test_corpus_files_and_labels(tiny):
    clips, pairs = corpus.plan(10, 4, instruments.TRAIN, 1)
    with open(tiny / "annotations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["song_id"]) for r in rows] == [c.song_id for c in clips]
    for r, c in zip(rows, clips, strict=True):
        v, a = c.label
        assert float(r["valence_mean"]) == pytest.approx(5 + 4 * v, abs=1e-4)
        assert float(r["arousal_mean"]) == pytest.approx(5 + 4 * a, abs=1e-4)
        assert (tiny / "midi" / f"{c.song_id}.mid").read_bytes() == midi_bytes(c.cues, notes(c.cues, c.seed, 3.0))
        samples, rate = read_audio(tiny / "audio" / f"{c.song_id}.wav")
        assert rate == ANALYSIS_RATE and len(samples) == 3 * ANALYSIS_RATE
        assert np.sqrt(np.mean(samples**2)) > 1e-3 and np.abs(samples).max() < 1.0
    with open(tiny / "contrasts.csv", newline="") as f:
        assert [(int(r["song_low"]), int(r["song_high"]), r["cue"]) for r in csv.DictReader(f)] == pairs
    info = json.loads((tiny / "corpus.json").read_text())
    assert info["clips"] == len(clips) and info["soundfont"] == "TimGM6mb.sf2"


def test_rendered_dynamics_contrast_is_louder(tiny):
    with open(tiny / "contrasts.csv", newline="") as f:
        (pair,) = [r for r in csv.DictReader(f) if r["cue"] == "dynamics"]
    rms = [np.sqrt(np.mean(read_audio(tiny / "audio" / f"{pair[k]}.wav")[0] ** 2)) for k in ("song_low", "song_high")]
    assert rms[1] > 1.5 * rms[0]


def _rms_db(path: Path) -> float:
    samples = read_audio(path)[0].astype(np.float64)
    return 10.0 * np.log10(np.mean(samples**2))


def test_rendered_loudness_follows_dynamics_not_articulation(tiny):
    """Clips are levelled to their velocity's loudness: legato and staccato of one pair sound equally loud."""
    with open(tiny / "contrasts.csv", newline="") as f:
        (pair,) = [r for r in csv.DictReader(f) if r["cue"] == "articulation"]
    with open(tiny / "annotations.csv", newline="") as f:
        velocity = {r["song_id"]: float(r["velocity"]) for r in csv.DictReader(f)}
    lo, hi = corpus.C.VELOCITY
    for key in ("song_low", "song_high"):
        path = tiny / "audio" / f"{pair[key]}.wav"
        want = corpus.LEVEL_DB[0] + (velocity[pair[key]] - lo) * (corpus.LEVEL_DB[1] - corpus.LEVEL_DB[0]) / (hi - lo)
        peak = np.abs(read_audio(path)[0]).max()
        # at the velocity's level, or quieter when the peak limit held it down
        assert _rms_db(path) == pytest.approx(want, abs=0.1) or (_rms_db(path) < want and peak > 0.97)


def test_level_sets_rms_by_velocity_and_limits_the_peak():
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal(48000)).astype(np.float32)
    for velocity, want in ((30.0, corpus.LEVEL_DB[0]), (120.0, corpus.LEVEL_DB[1])):
        y = corpus.level(x, velocity)
        assert 10 * np.log10(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(want, abs=0.01)
    spiky = np.zeros(48000, dtype=np.float32)
    spiky[::4800] = 0.5  # crest factor 20 dB: the level of velocity 120 would clip
    assert np.abs(corpus.level(spiky, 120.0)).max() == pytest.approx(corpus.PEAK_LIMIT, rel=1e-6)
    assert not corpus.level(np.zeros(100, dtype=np.float32), 80.0).any()


def test_make_corpus_refuses_to_overwrite_and_names_missing_packages(tiny, tmp_path, monkeypatch, capsys):
    main = script_main("make_corpus")
    assert main([str(tiny), "--clips", "1"]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    monkeypatch.setattr(corpus, "SOUNDFONT_DIR", tmp_path / "none")
    assert main([str(tmp_path / "c"), "--clips", "1", "--soundfont", "fluidr3"]) == 2
    assert "apt-get install fluid-soundfont-gm" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(corpus, "SOUNDFONT_DIR", Path("/usr/share/sounds/sf2"))
    assert main([str(tmp_path / "c"), "--clips", "1"]) == 2
    assert "apt-get install fluidsynth" in capsys.readouterr().err
    assert not (tmp_path / "c" / "annotations.csv").exists()


def _agree(onnx_path: Path, json_path: Path, frames: np.ndarray) -> float:
    yo = load_backend(onnx_path).infer_block(frames)
    yr = load_backend(json_path).infer_block(frames)
    return float(np.abs(yo - yr).max())


def test_trainer_and_evaluator_on_a_tiny_corpus(tiny, tmp_path, capsys):
    onnx_path, json_path = tmp_path / "e.onnx", tmp_path / "e.json"
    args = ["--corpus", str(tiny), "--onnx", str(onnx_path), "--rtneural", str(json_path), "--quiet"]
    assert script_main("train_emotion")(args + ["--max-epochs", "3", "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["clips_train"] + report["clips_validation"] == 22 and report["epochs"] <= 3
    assert report["contrast_pairs"] == 6 and report["config"]["pair_weight"] == 3.0
    frames = item_features(corpus_items(tiny)[0])
    assert len(frames) > 50
    assert _agree(onnx_path, json_path, frames) <= 1e-5
    for path in (onnx_path, json_path):
        meta = load_backend(path).metadata
        assert meta["layout_version"] == extractor.LAYOUT_VERSION
        assert (meta["sample_rate"], meta["window"], meta["hop"]) == (ANALYSIS_RATE, WINDOW, HOP)
        assert "rendered MIDI" in meta["training_data"] and "not human ratings" in meta["training_data"]
    capsys.readouterr()
    assert script_main("eval_emotion")([str(json_path), str(tiny), "--json", str(tmp_path / "e.json.report")]) == 0
    out = capsys.readouterr().out
    assert "| centroid |" in out and "| mapped |" in out
    ev = json.loads((tmp_path / "e.json.report").read_text())
    assert ev["clips"] == 22 and ev["pairs"] == 6 and ev["centroid"]["pairwise"]["all"][1] > 0
    # a backend by name (the non-ML stub) for reference: no learned mapping, so one row
    assert script_main("eval_emotion")(["heuristic", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "| centroid |" in out and "| mapped |" not in out


def test_gru_trainer_on_a_tiny_corpus_learns_and_both_exports_stream_alike(tiny, tmp_path, capsys):
    onnx_path, json_path, report_path = tmp_path / "g.onnx", tmp_path / "g.json", tmp_path / "g.report.json"
    args = ["--corpus", str(tiny), "--model", "gru", "--hidden", "16", "--gru-units", "12", "--warmup", "0.5"]
    args += ["--onnx", str(onnx_path), "--rtneural", str(json_path), "--report", str(report_path), "--quiet"]
    assert script_main("train_emotion")(args + ["--max-epochs", "60", "--patience", "60"]) == 0
    report = json.loads(report_path.read_text())
    assert report["model"] == "gru" and report["config"]["units"] == 12 and report["epochs"] == 60
    losses = report["val_loss"]
    assert min(losses) < 0.97 * losses[0]  # the held-out clips' (3 clips) loss falls before it overfits
    onnx_backend, rt_backend = load_backend(onnx_path), load_backend(json_path)
    for item in corpus_items(tiny)[:3]:  # real feature frames, one hop at a time, from reset state
        frames = item_features(item)
        steps = []
        for backend in (onnx_backend, rt_backend):
            backend.reset()
            steps.append(np.stack([backend.infer(row) for row in frames]))
        assert np.abs(steps[0] - steps[1]).max() <= 1e-5
    ev = evaluate(onnx_path, tiny)  # 19 of the 22 clips trained on, until epoch 10 (the best held-out loss)
    assert ev["centroid"]["arousal_r"] > 0.5 and ev["centroid"]["valence_r"] > 0.5  # measured 0.67 and 0.62
    assert script_main("eval_emotion")([str(onnx_path), str(tiny)]) == 0
    assert "| centroid |" in capsys.readouterr().out


def test_trainer_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "annotations.csv").write_text("song_id,valence_mean,arousal_mean\n1,5,5\n")
    (tmp_path / "audio").mkdir()
    assert script_main("train_emotion")(["--corpus", str(tmp_path), "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no audio for song_id 1" in err and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_run_prepares_features_for_its_own_split_first(tiny):
    """``prepare`` sees the one held-out mask the run trains with (pairs on one side), before any features are read."""
    items = corpus_items(tiny)
    pairs = np.array([[i, i + 1] for i in range(len(items) - 12, len(items), 2)])
    calls = []

    def features(item):
        assert calls, "features read before prepare"
        return item_features(item)

    result = pipeline.run(
        items, TrainConfig(hidden=8, max_epochs=1), 16, 0.3, None, features, None, pairs, calls.append
    )
    (held,) = calls
    np.testing.assert_array_equal(held, pipeline.split(len(items), 0.3, 0, pairs))
    assert (held[pairs[:, 0]] == held[pairs[:, 1]]).all()
    assert (result.clips_train, result.clips_val) == (int((~held).sum()), int(held.sum()))


@pytest.mark.parametrize(
    "rows, message",
    [
        ("1,999,mode\n", "song_id 999 is not in"),
        ("1,2,mode\n2,3,tempo\n", "song_id 2 appears twice"),
        ("1,1,mode\n", "song_id 1 appears twice"),
    ],
)
def test_trainer_refuses_bad_contrast_pairs_in_one_line(tiny, tmp_path, capsys, rows, message):
    bad = tmp_path / "c"
    shutil.copytree(tiny, bad)
    (bad / "contrasts.csv").write_text("song_low,song_high,cue\n" + rows)
    assert script_main("train_emotion")(["--corpus", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad / 'contrasts.csv'}: {message}" in err and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()
    args = ["--corpus", str(tiny), "--onnx", str(tmp_path / "x.onnx"), "--pair-weight", "-1"]
    assert script_main("train_emotion")(args) == 2
    assert "--pair-weight must be 0 or more, got -1.0" in capsys.readouterr().err


def test_shipped_models_load_agree_and_carry_their_metadata(tiny):
    onnx_path, json_path = MODELS / "emotion.onnx", MODELS / "emotion.rtneural.json"
    frames = np.concatenate([item_features(it) for it in corpus_items(tiny)[:4]])
    assert _agree(onnx_path, json_path, frames) <= 1e-5
    for path in (onnx_path, json_path):
        meta = load_backend(path).metadata
        # a model trained on another feature layout than the extractor's is stale: retrain (models/README.md)
        assert meta["layout_version"] == extractor.LAYOUT_VERSION
        assert (meta["sample_rate"], meta["window"], meta["hop"]) == (ANALYSIS_RATE, WINDOW, HOP)
        assert meta["mapping"].startswith("grid8x8") and np.shape(meta["emotion_mapping"]) == (3, 64)
        assert "not human ratings" in meta["training_data"]


def test_studio_yaml_runs_the_shipped_model_through_rtneural():
    cfg = load_config(ROOT / "config" / "studio.yaml")
    assert cfg["backend"]["name"] == "rtneural"
    backend = create_backend("rtneural", backend_options(cfg))
    assert Path(backend.metadata["file"]).resolve() == (MODELS / "emotion.rtneural.json").resolve()
    y = backend.infer(np.zeros(128, dtype=np.float32))
    assert y.shape == (64,) and np.isfinite(y).all()
