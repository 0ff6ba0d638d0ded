"""The arrangement style of the corpus: drums, several programs, random levels, production, cue changes, pairs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np
import pytest

from kelly_jack.io import read_audio
from kelly_jack.training import arrangement, corpus, drums, instruments, production
from kelly_jack.training import cues as C
from kelly_jack.training.dataset import DatasetError, corpus_items, read_segments
from kelly_jack.training.features import ANALYSIS_RATE

from support.scripts_main import script_main

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 3.0


@pytest.fixture(scope="module")
def arranged(tmp_path_factory):
    """Eight 3 s arranged clips (half of them changing cues) and one pair per cue, wide pool, TimGM6mb."""
    try:
        corpus.fluidsynth_path()
        corpus.soundfont_path("timgm6mb")
    except corpus.CorpusError as e:
        pytest.fail(f"{e} (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("arranged")
    args = [str(out), "--set", "wide", "--clips", "8", "--contrasts", "1", "--seconds", str(SECONDS)]
    assert script_main("make_corpus")(args + ["--seed", "11", "--changes", "0.5", "--soundfont", "timgm6mb"]) == 0
    return out


def _plan(count: int = 8, contrasts: int = 1, seed: int = 11, table=instruments.WIDE, changes: float = 0.5):
    return corpus.plan(count, seed, table, contrasts, (), "arrangement", changes)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "annotations.csv", newline="") as f:
        return {r["song_id"]: r for r in csv.DictReader(f)}


def _rms_db(x: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(np.square(x, dtype=np.float64))))


def test_midi_has_a_drum_track_when_drums_are_drawn_and_several_programs(arranged):
    clips, _ = _plan()
    assert {c.cues.drums for c in clips} >= {0, 3}  # the drums pair at least; random clips in between
    for c in clips:
        msgs = [m for track in mido.MidiFile(arranged / "midi" / f"{c.song_id}.mid").tracks for m in track]
        hits = [m for m in msgs if m.type == "note_on" and m.channel == drums.CHANNEL]
        # a clip that changes its drum level part-way has drums if either level has them
        levels = {c.cues.drums} | ({c.change.cues.drums} if c.change else set())
        assert bool(hits) == (max(levels) > 0), c.song_id
        programs = {m.channel: m.program for m in msgs if m.type == "program_change"}
        assert programs[drums.CHANNEL] == 0 and {0, 1, 2} <= set(programs)
        assert all(programs[ch] in instruments.WIDE for ch in (0, 1, 2))  # never a dev or eval program
        assert programs[2] in instruments.bass_pool(instruments.WIDE)
        played = {m.channel for m in msgs if m.type == "note_on"}
        assert {0, 1, 2} <= played
        sends = {(m.channel, m.control) for m in msgs if m.type == "control_change"}
        assert {(ch, cc) for ch in arrangement.CHANNELS for cc in (7, 91, 93)} <= sends
    assert len({(c.cues.program, c.arrangement.chords, c.arrangement.bass) for c in clips}) > 5


@pytest.mark.parametrize("name", ["dev", "eval", "train"])
def test_arrangements_keep_to_their_set(name):
    table = instruments.SETS[name]
    clips, _ = _plan(60, 2, 5, table)
    for c in clips:
        assert {c.cues.program, c.arrangement.chords, c.arrangement.bass} <= set(table)


def test_drum_density_rises_with_level_tempo_and_the_arousal_cues():
    def hits_per_second(level, bpm):
        return len(drums.groove(level, bpm, 8.0, 90, seed=3)) / 8.0

    for bpm in (70.0, 120.0, 170.0):
        rates = [hits_per_second(level, bpm) for level in range(C.DRUM_LEVELS)]
        assert rates[0] == 0 and all(b > a for a, b in zip(rates, rates[1:], strict=False)), rates
    for level in (1, 2, 3):
        assert hits_per_second(level, 80.0) < hits_per_second(level, 160.0)
    assert all(n.channel == 9 and 35 <= n.pitch <= 59 for n in drums.groove(3, 120.0, 4.0, 90, seed=1))
    # drawn levels follow tempo and dynamics (random clips only: pairs hold their level)
    clips, _ = _plan(600, 0, 2, changes=0.0)
    level = np.array([c.cues.drums for c in clips], float)
    tempo = np.array([c.cues.values()["tempo"] for c in clips])
    dynamics = np.array([c.cues.values()["dynamics"] for c in clips])
    assert np.corrcoef(level, tempo)[0, 1] > 0.4 and np.corrcoef(level, dynamics)[0, 1] > 0.2
    assert 0.08 < np.mean(level == 0) < 0.35  # some clips without drums, as in ballads
    arousal = np.array([c.label[1] for c in clips])
    assert np.corrcoef(level, arousal)[0, 1] > 0.4


def test_levels_span_the_range_and_carry_no_label():
    clips, _ = _plan(800, 0, 3, changes=0.25)
    rms = np.array([c.production.rms_db for c in clips])
    lo, hi = production.RMS_DB
    assert rms.min() < lo + 2 and rms.max() > hi - 2 and np.all((rms >= lo) & (rms <= hi))
    for dim in (0, 1):
        label = np.array([c.label[dim] for c in clips])
        assert abs(np.corrcoef(rms, label)[0, 1]) < 0.1
    velocity = np.array([c.cues.velocity for c in clips])
    assert abs(np.corrcoef(rms, velocity)[0, 1]) < 0.1


def test_rendered_clips_sit_at_their_drawn_level(arranged):
    clips, _ = _plan()
    rows = _rows(arranged)
    measured = []
    for c in clips:
        x = read_audio(arranged / "audio" / f"{c.song_id}.wav")[0]
        assert len(x) == SECONDS * ANALYSIS_RATE and np.abs(x).max() <= production.PEAK_LIMIT + 1e-4
        assert float(rows[str(c.song_id)]["rms_dbfs"]) == c.production.rms_db
        got = _rms_db(x)
        # at the drawn level, or below it where the limiter took the peaks down
        assert got == pytest.approx(c.production.rms_db, abs=0.05) or (
            got < c.production.rms_db and np.abs(x).max() > 0.95
        )
        measured.append(got)
    assert max(measured) - min(measured) > 10.0
    info = json.loads((arranged / "corpus.json").read_text())
    assert info["style"] == "arrangement" and info["arrangement"]["production"]["rms_dbfs"] == [-45.0, -10.0]
    assert info["arrangement"]["cue_changes"] == sum(c.change is not None for c in clips) > 0
    assert sum(info["arrangement"]["drum_levels"].values()) == len(clips)


def test_a_cue_change_writes_a_timeline_the_dataset_reads(arranged):
    clips, _ = _plan()
    changing = [c for c in clips if c.change is not None]
    assert changing and all(c.song_id <= 8 for c in changing)  # random clips only, never a pair
    items = {it.song_id: it for it in corpus_items(arranged)}
    for c in changing:
        at = c.change.at * SECONDS
        assert corpus.CHANGE_AT[0] * SECONDS <= at <= corpus.CHANGE_AT[1] * SECONDS
        assert c.change.changed and set(c.change.changed) <= set(corpus.CHANGE_CUES)
        for name in c.change.changed:
            field = corpus.CUE_FIELDS[name]
            assert getattr(c.change.cues, field) != getattr(c.cues, field)
        item = items[str(c.song_id)]
        assert len(item.segments) == 2
        before, after = item.labels_at(np.array([at - 0.5, at + 0.5]))
        assert not np.allclose(before, after)
        np.testing.assert_allclose(before, C.label(c.cues), atol=1e-4)
        np.testing.assert_allclose(after, C.label(c.change.cues), atol=1e-4)
        # the clip-level label is the timeline's time-weighted mean
        w = at / SECONDS
        np.testing.assert_allclose([item.valence, item.arousal], w * before + (1 - w) * after, atol=1e-4)
        # the MIDI switches too: a tempo map with the change, or different notes after it
        notes = arrangement.clip_notes(c.cues, c.seed, c.arrangement, SECONDS, c.change)
        steady = arrangement.clip_notes(c.cues, c.seed, c.arrangement, SECONDS, None)
        assert [n for n in notes if n.start >= at] != [n for n in steady if n.start >= at]
    static = items[str(next(c.song_id for c in clips if c.change is None))]
    assert len(static.segments) == 1
    np.testing.assert_allclose(static.labels_at(np.array([0.1, 2.9])), [[static.valence, static.arousal]] * 2)
    plain = replace(static, segments=())
    np.testing.assert_allclose(plain.labels_at(np.arange(3.0)), [[static.valence, static.arousal]] * 3)


def test_contrast_pairs_differ_only_in_their_cue_and_level(arranged):
    clips, pairs = _plan()
    assert [cue for _, _, cue in pairs] == [*corpus.CONTRASTS, "drums"]
    by_id = {c.song_id: c for c in clips}
    for low, high, cue in pairs:
        a, b = by_id[low], by_id[high]
        field = corpus.CUE_FIELDS[cue]
        assert getattr(a.cues, field) != getattr(b.cues, field)
        assert replace(a.cues, **{field: getattr(b.cues, field)}) == b.cues
        assert (a.seed, a.arrangement, a.soundfont, a.change, b.change) == (
            b.seed,
            b.arrangement,
            b.soundfont,
            None,
            None,
        )
        assert replace(a.production, rms_db=b.production.rms_db) == b.production
        assert a.production.rms_db != b.production.rms_db  # independent levels: the level tells nothing
        # the parts the cue does not touch are the same notes (a drums pair: everything but the drums)
        if cue == "drums":
            na, nb = (arrangement.clip_notes(x.cues, x.seed, x.arrangement, SECONDS, None) for x in (a, b))
            assert [n for n in na if n.channel != 9] == [n for n in nb if n.channel != 9]
            assert not [n for n in na if n.channel == 9] and [n for n in nb if n.channel == 9]
    with open(arranged / "contrasts.csv", newline="") as f:
        assert [(int(r["song_low"]), int(r["song_high"]), r["cue"]) for r in csv.DictReader(f)] == pairs


def test_the_arrangement_style_arranges_the_melody_styles_clips():
    melody, melody_pairs = corpus.plan(20, 4, instruments.WIDE, 2)
    arranged, pairs = corpus.plan(20, 4, instruments.WIDE, 2, (), "arrangement", 0.0)
    assert pairs[: len(melody_pairs)] == melody_pairs
    for m, a in zip(melody, arranged, strict=False):
        assert (m.song_id, m.seed) == (a.song_id, a.seed)
        assert replace(a.cues, drums=None, brightness=m.cues.brightness) == m.cues
        assert a.cues.brightness == arrangement.brightness(instruments.WIDE, a.cues.program, a.arrangement.chords)
    assert all(c.arrangement is None and c.cues.drums is None for c in melody)
    with pytest.raises(corpus.CorpusError, match="changes"):
        corpus.plan(2, 1, instruments.WIDE, 0, (), "melody", 0.5)
    with pytest.raises(corpus.CorpusError, match="style"):
        corpus.plan(2, 1, instruments.WIDE, 0, (), "remix")


def test_drum_rule_is_small_and_labels_stay_in_range():
    assert C.VALENCE_WEIGHTS["drums"] == 0.0 and 0 < C.AROUSAL_WEIGHTS["drums"] < C.AROUSAL_WEIGHTS["dynamics"]
    assert sum(abs(w) for w in C.AROUSAL_WEIGHTS.values()) <= 1.0 + 1e-9
    base = corpus.random_cues(np.random.default_rng(0), instruments.WIDE)
    assert C.label(base) == C.label(replace(base, drums=None))  # the melody style: no drum term
    lo, hi = C.label(replace(base, drums=0)), C.label(replace(base, drums=3))
    assert lo[0] == hi[0] and hi[1] - lo[1] == pytest.approx(2 * C.AROUSAL_WEIGHTS["drums"])


def test_production_chain_sets_the_level_limits_peaks_and_keeps_silence():
    t = np.arange(ANALYSIS_RATE) / ANALYSIS_RATE
    x = 0.05 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    p = production.Production(-20.0, 4.0, -6.0, 1.5, 40.0, 7)
    y = production.apply(x, ANALYSIS_RATE, p)
    assert y.dtype == np.float32 and _rms_db(y) == pytest.approx(-20.0, abs=0.05)
    assert np.array_equal(y, production.apply(x, ANALYSIS_RATE, p))
    loud = production.apply(x, ANALYSIS_RATE, replace(p, rms_db=-10.0, comp_ratio=1.0))
    assert np.abs(loud).max() <= production.PEAK_LIMIT and _rms_db(loud) > -11.0
    # the compressor: the loud half (at the clip's RMS + 3 dB, 6 dB over a threshold 3 dB below the RMS) comes
    # down by 6 * (1 - 1/6) = 5 dB against the quiet half; ratio 1 leaves the clip alone
    burst = np.concatenate([0.01 * np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 220 * t)])
    squeezed = production.compress(burst, ANALYSIS_RATE, 6.0, -3.0)
    half = ANALYSIS_RATE

    def contrast(y):
        return _rms_db(y[half + 4800 :]) - _rms_db(y[: half - 4800])

    assert contrast(burst) - contrast(squeezed) == pytest.approx(5.0, abs=0.3)
    assert np.array_equal(production.compress(burst, ANALYSIS_RATE, 1.0, -3.0), burst)
    tilted = production.tilt(np.sin(2 * np.pi * 4000 * t), ANALYSIS_RATE, 2.0)
    assert _rms_db(tilted[:-1000]) == pytest.approx(4.0 + _rms_db(np.sin(2 * np.pi * 4000 * t)), abs=0.3)
    assert not production.apply(np.zeros(4800), ANALYSIS_RATE, p).any()


def test_bad_segments_file_is_one_line_naming_it(arranged, tmp_path):
    bad = tmp_path / "segments.csv"
    bad.write_text("song_id,start_s,end_s,valence,arousal\n1,0,1.5,5,5\n1,2.0,3,5,5\n")
    with pytest.raises(DatasetError) as e:
        read_segments(bad)
    assert str(e.value).startswith(f"{bad}:3: song_id 1 starts at 2.0 s") and "\n" not in str(e.value)
    bad.write_text("song_id,start_s,end_s,valence,arousal\n1,0,1.5,11,5\n")
    with pytest.raises(DatasetError, match=r"segments.csv:2: needs start_s < end_s and labels on 1..9"):
        read_segments(bad)
    bad.write_text("song,start\n")
    with pytest.raises(DatasetError, match="expected the columns song_id, start_s"):
        read_segments(bad)


def test_a_corpus_says_whether_its_labels_are_absolute_or_relative(tmp_path):
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "1.wav").write_bytes(b"")
    (tmp_path / "annotations.csv").write_text("song_id,valence_mean,valence_std,arousal_mean,arousal_std\n1,5,0,5,0\n")
    assert not corpus_items(tmp_path)[0].relative  # no corpus.json: absolute
    (tmp_path / "corpus.json").write_text('{"labels": "relative"}')
    assert corpus_items(tmp_path)[0].relative
    (tmp_path / "corpus.json").write_text('{"labels": "ranked"}')
    with pytest.raises(DatasetError, match=r"corpus.json: labels is 'ranked', expected 'absolute' or 'relative'"):
        corpus_items(tmp_path)


def test_make_corpus_style_options_are_checked_in_one_line(tmp_path, capsys):
    main = script_main("make_corpus")
    assert main([str(tmp_path / "a"), "--clips", "1", "--style", "melody", "--changes", "0.2"]) == 2
    assert "--changes needs --style arrangement" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), "--clips", "1", "--changes", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--changes must be between 0 and 1, got 1.5" in err and "\n" not in err
    assert not (tmp_path / "a").exists()


def test_stretched_pairs_play_the_clip_faster_and_slower_and_follow_the_tempo_rule(arranged, tmp_path):
    """stretch_corpus: each pair is one unchanged clip at 0.8x and 1.25x (rubberband), labelled by the tempo rule."""
    from kelly_jack.training import stretch

    out = tmp_path / "stretched"
    assert script_main("stretch_corpus")([str(arranged), str(out), "--clips", "3", "--seed", "1"]) == 0
    rows, source = _rows(out), _rows(arranged)
    with open(out / "contrasts.csv", newline="") as f:
        pairs = list(csv.DictReader(f))
    assert pairs and all(p["cue"] == "tempo" for p in pairs)
    for p in pairs:
        slow, fast = rows[p["song_low"]], rows[p["song_high"]]
        src = source[slow["source_id"]]
        assert slow["source_id"] == fast["source_id"] and not src["changed"]
        assert (float(slow["stretch"]), float(fast["stretch"])) == (stretch.SLOW, stretch.FAST)
        n_src = len(read_audio(arranged / "audio" / f"{slow['source_id']}.wav", ANALYSIS_RATE)[0])
        n_slow = len(read_audio(out / "audio" / f"{p['song_low']}.wav", ANALYSIS_RATE)[0])
        n_fast = len(read_audio(out / "audio" / f"{p['song_high']}.wav", ANALYSIS_RATE)[0])
        assert n_slow == pytest.approx(n_src / stretch.SLOW, rel=0.01)
        assert n_fast == pytest.approx(n_src / stretch.FAST, rel=0.01)
        # the labelled difference is the tempo rule's: arousal weight x the change of the tempo cue
        bpm = float(src["bpm"])
        cue = 2 * bpm * (stretch.FAST - stretch.SLOW) / (C.TEMPO_BPM[1] - C.TEMPO_BPM[0])
        d_arousal = (float(fast["arousal_mean"]) - float(slow["arousal_mean"])) / 4
        assert d_arousal == pytest.approx(C.AROUSAL_WEIGHTS["tempo"] * cue, abs=1e-3)
    assert script_main("stretch_corpus")([str(arranged), str(out)]) == 2  # never over an existing corpus
