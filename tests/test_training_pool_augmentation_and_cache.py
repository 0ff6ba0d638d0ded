"""The wide training pool, the development set, per-clip soundfonts, timbre augmentation and the feature cache."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from kelly_jack.training import augment, cache, corpus, instruments
from kelly_jack.training.audio import write_wav
from kelly_jack.training.dataset import Item, item_features
from kelly_jack.training.features import ANALYSIS_RATE

from support.scripts_main import script_main

ROOT = Path(__file__).resolve().parent.parent


def test_program_pools_keep_eval_and_dev_unseen():
    wide, dev, ev = set(instruments.WIDE), set(instruments.DEV), set(instruments.EVAL)
    assert not wide & ev and not dev & ev and not dev & wide
    assert not dev & set(instruments.TRAIN)  # the shipped 22-program model is measured on dev too
    assert set(instruments.TRAIN) <= wide
    melodic = set(range(128)) - instruments.NOT_MELODIC
    assert wide | dev | ev == melodic  # every melodic program is in exactly one set
    assert {47, 55, 112, 127} <= instruments.NOT_MELODIC
    for table in instruments.SETS.values():
        for name, brightness in table.values():
            assert name and -1.0 <= brightness <= 1.0


def test_soundfont_per_clip_is_drawn_from_the_seed_and_shared_by_a_pair():
    sfs = ["timgm6mb", "csound"]
    clips, pairs = corpus.plan(40, 7, instruments.WIDE, 3, sfs)
    again, _ = corpus.plan(40, 7, instruments.WIDE, 3, sfs)
    assert clips == again
    other, _ = corpus.plan(40, 8, instruments.WIDE, 3, sfs)
    assert [c.soundfont for c in other] != [c.soundfont for c in clips]
    assert {c.soundfont for c in clips} == set(sfs)
    by_id = {c.song_id: c for c in clips}
    assert all(by_id[a].soundfont == by_id[b].soundfont for a, b, _ in pairs)
    # the soundfont draw has its own stream: cues and melodies are those of the plan without it
    plain, plain_pairs = corpus.plan(40, 7, instruments.WIDE, 3)
    assert plain_pairs == pairs
    assert [(c.cues, c.seed) for c in plain] == [(c.cues, c.seed) for c in clips]
    assert {c.soundfont for c in plain} == {""}


def test_write_corpus_refuses_a_clip_whose_soundfont_was_not_given(tmp_path):
    clips, pairs = corpus.plan(10, 1, instruments.WIDE, 0, ["timgm6mb", "other"])
    assert "other" in {c.soundfont for c in clips}
    given = ["timgm6mb", "csound"]
    with pytest.raises(corpus.CorpusError, match="other"):
        corpus.write_corpus(tmp_path, clips, pairs, instruments=instruments.WIDE, soundfont=given, seconds=1, rate=8000)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def _tone_mix(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * ANALYSIS_RATE)) / ANALYSIS_RATE
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220.0, 880.0, 3520.0), start=1))
    return (0.1 * x).astype(np.float32)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / ANALYSIS_RATE)
    return float(spec[(f >= lo) & (f < hi)].sum())


def test_augmentation_is_deterministic_keeps_the_level_and_changes_the_timbre():
    x = _tone_mix()
    aug = augment.Augment(tilt_db=3.0, band_db=6.0, level_db=0.5, seed=1)
    y = augment.equalise(x, ANALYSIS_RATE, aug, "12")
    assert np.array_equal(y, augment.equalise(x, ANALYSIS_RATE, aug, "12"))
    assert not np.array_equal(y, augment.equalise(x, ANALYSIS_RATE, aug, "13"))
    assert not np.array_equal(y, augment.equalise(x, ANALYSIS_RATE, augment.Augment(seed=2), "12"))
    rms = [20 * np.log10(np.sqrt(np.mean(np.square(v, dtype=np.float64)))) for v in (x, y)]
    assert abs(rms[1] - rms[0]) <= 0.5 + 1e-3
    d = augment.draw(aug, "12")
    ratio_in = _band_energy(x, 3000, 4000) / _band_energy(x, 100, 300)
    ratio_out = _band_energy(y, 3000, 4000) / _band_energy(y, 100, 300)
    expected = augment.gain_db(d, np.array([3520.0]))[0] - augment.gain_db(d, np.array([220.0]))[0]
    assert 10 * np.log10(ratio_out / ratio_in) == pytest.approx(expected, abs=0.5)
    assert abs(expected) > 0.5  # this draw does move the balance


def test_augmentation_is_finite_on_bad_audio():
    aug = augment.Augment()
    bad = _tone_mix(0.5)
    bad[::97] = np.nan
    bad[5] = np.inf
    for x in (bad, np.zeros(24000, np.float32), np.zeros(0, np.float32), np.full(4800, 4.0, np.float32)):
        y = augment.equalise(x, ANALYSIS_RATE, aug, "1")
        assert y.dtype == np.float32 and len(y) == len(x) and np.isfinite(y).all() and np.abs(y).max(initial=0) <= 1
    assert not augment.equalise(np.zeros(24000, np.float32), ANALYSIS_RATE, aug, "1").any()


def test_feature_cache_off_by_default_hits_and_keys_on_augmentation(tmp_path, monkeypatch):
    wav = tmp_path / "7.wav"
    write_wav(wav, _tone_mix(0.5), ANALYSIS_RATE)
    item = Item("7", 0.0, 0.0, wav)
    plain = item_features(item)
    assert np.array_equal(cache.ClipFeatures()(item), plain)  # no cache, no augmentation: the extractor
    store = tmp_path / "cache"
    assert np.array_equal(cache.ClipFeatures(store)(item), plain)
    aug = augment.Augment(seed=3)
    augmented = cache.ClipFeatures(store, aug)(item)
    assert not np.array_equal(augmented, plain) and np.isfinite(augmented).all()
    assert len(list(store.glob("*.npy"))) == 2

    def boom(*_):
        raise AssertionError("computed again")

    monkeypatch.setattr(cache, "compute", boom)
    assert np.array_equal(cache.ClipFeatures(store)(item), plain)
    assert np.array_equal(cache.ClipFeatures(store, aug)(item), augmented)
    with pytest.raises(AssertionError):
        cache.ClipFeatures(store, augment.Augment(seed=4))(item)  # another augmentation is another key


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Four 2 s clips and one pair per cue, from the wide pool, over TimGM6mb and csound's GM bank."""
    try:
        corpus.fluidsynth_path()
        corpus.soundfont_path("timgm6mb")
        corpus.soundfont_path("csound")
    except corpus.CorpusError as e:
        pytest.fail(f"{e} (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("mixed")
    args = [str(out), "--set", "wide", "--clips", "4", "--contrasts", "1", "--seconds", "2", "--seed", "5"]
    args += ["--style", "melody"]
    assert script_main("make_corpus")(args + ["--soundfont", "timgm6mb", "--soundfont", "csound"]) == 0
    return out


def test_make_corpus_mixes_two_soundfonts_per_clip(mixed):
    with open(mixed / "annotations.csv", newline="") as f:
        rows = {r["song_id"]: r for r in csv.DictReader(f)}
    clips, _ = corpus.plan(4, 5, instruments.WIDE, 1, ["timgm6mb", "csound"])
    names = {"timgm6mb": "TimGM6mb.sf2", "csound": "sf_GMbank.sf2"}
    assert [rows[str(c.song_id)]["soundfont"] for c in clips] == [names[c.soundfont] for c in clips]
    assert {r["soundfont"] for r in rows.values()} == set(names.values())
    assert all(int(r["program"]) in instruments.WIDE for r in rows.values())
    info = json.loads((mixed / "corpus.json").read_text())
    assert sum(info["soundfont_clips"].values()) == len(rows) == info["clips"]


def test_trainer_with_cache_augmentation_and_dev_set(mixed, tmp_path):
    store = tmp_path / "cache"
    reports = []
    for k in range(2):  # the second run reads every clip from the cache and makes the same model
        out = tmp_path / f"run{k}"
        args = ["--corpus", str(mixed), "--onnx", str(out / "m.onnx"), "--rtneural", str(out / "m.json"), "--quiet"]
        args += ["--max-epochs", "2", "--cache", str(store), "--augment", "--dev", str(mixed)]
        assert script_main("train_emotion")(args + ["--report", str(out / "r.json")]) == 0
        reports.append(json.loads((out / "r.json").read_text()))
    assert (tmp_path / "run0" / "m.json").read_bytes() == (tmp_path / "run1" / "m.json").read_bytes()
    r = reports[0]
    assert r["augment"].startswith("eq-") and r["dev"]["clips"] == 16 and r["dev"]["pairs"] == 6
    assert np.isfinite(r["dev"]["centroid"]["arousal_r"])
    # plain features for every clip (held-out clips and the dev set) plus augmented ones for the training clips
    assert len(list(store.glob("*.npy"))) == 16 + r["clips_train"]
