"""The checks on recorded music, on real music: one small Debian package (asc-music, 10 MB, GPL-2+), two tracks.

The package is fetched with ``apt-get download`` into a temporary cache; without a reachable
Debian archive the tests that need it are skipped with apt's reason. rubberband (Debian
``rubberband-cli``) is installed by scripts/setup. VibeNet is not used here: the peer is installed
only where the evaluation runs.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from kelly_jack.training.recorded import (
    EXCERPT_SECONDS,
    PACKAGES,
    Package,
    RecordedError,
    make_variants,
    tracks,
)
from kelly_jack.training.recorded_checks import checks, run, sign_test, subset, summarise

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "emotion.rtneural.json"
ASC = next(p for p in PACKAGES if p.name == "asc-music")


def small(split: str) -> tuple[Package, ...]:
    """A one-package catalogue: asc-music, two tracks, in ``split``."""
    return (Package(ASC.name, split, ASC.licence, ASC.style, 2, ASC.patterns),)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get and dpkg-deb are needed to fetch the Debian music package")
    if shutil.which("rubberband") is None:
        pytest.fail("rubberband is not installed: scripts/setup installs rubberband-cli")
    folder = tmp_path_factory.mktemp("recorded")
    try:
        tracks(small("dev")[0], folder)
    except RecordedError as e:
        pytest.skip(f"the Debian archive cannot be reached: {e}")
    return folder


def test_two_tracks_are_chosen_the_same_way_twice(cache):
    a = tracks(small("dev")[0], cache)
    assert len(a) == 2
    assert [t.key for t in a] == [t.key for t in tracks(small("dev")[0], cache)]


def test_excluded_file_names_are_never_chosen(cache):
    every = tracks(Package(ASC.name, "dev", ASC.licence, ASC.style, 10, ASC.patterns), cache)
    skip = Path(every[0].relpath).name
    kept = tracks(Package(ASC.name, "dev", ASC.licence, ASC.style, 10, ASC.patterns, exclude=(skip,)), cache)
    assert [t.key for t in kept] == [t.key for t in every[1:]]


def test_variants_have_their_levels_and_the_tempo_stretches_their_durations(cache):
    import soundfile as sf

    for track in tracks(small("dev")[0], cache):
        paths = make_variants(track, cache)
        x = {name: sf.read(str(p), dtype="float64")[0] for name, p in paths.items()}
        rates = {sf.info(str(p)).samplerate for p in paths.values()}
        assert rates == {48000}
        assert len(x["0dB"]) == int(EXCERPT_SECONDS * 48000)
        assert np.max(np.abs(x["0dB"])) == pytest.approx(10 ** (-1 / 20), rel=1e-4)
        for db in (-12, -24):
            assert np.max(np.abs(x[f"{db}dB"])) / np.max(np.abs(x["0dB"])) == pytest.approx(10 ** (db / 20), rel=1e-4)
        # -T is a tempo multiplier: 1.25x speed lasts 0.8 times as long, 0.8x lasts 1.25 times
        assert len(x["x1.25"]) / len(x["0dB"]) == pytest.approx(0.8, abs=0.005)
        assert len(x["x0.8"]) / len(x["0dB"]) == pytest.approx(1.25, abs=0.005)


def test_the_shipped_model_gives_finite_level_and_tempo_figures(cache, tmp_path):
    report = run(
        "dev", [SHIPPED], cache, None, tmp_path / "looks.md", "test", catalogue=small("dev"), log=lambda s: None
    )
    assert len(report["tracks"]) == 2
    [(name, s)] = report["systems"].items()
    assert s["sha256"] and s["tracks"] == 2 and s["dims"] == ["valence", "arousal"]
    for db in (-12, -24):
        for dim in ("valence", "arousal"):
            c = s[f"level{db}_{dim}"]
            assert math.isfinite(c["shift_over_spread"]) and 0 <= c["softer_lower"] <= 2
    assert 0 <= s["tempo_arousal"]["faster_higher"] <= 2
    values = report["values"][name]
    assert all(math.isfinite(x) for w in values.values() for va in w.values() for x in va)
    assert {v for w in values.values() for v in w} == {"0dB", "-12dB", "-24dB", "x1.25", "x0.8"}


def test_a_heldout_run_appends_a_look_and_a_dev_run_does_not(cache, tmp_path):
    log = tmp_path / "looks.md"
    run("dev", [SHIPPED], cache, None, log, "dev run", catalogue=small("dev"), log=lambda s: None)
    assert not log.exists()
    for n in (1, 2):
        run("heldout", [SHIPPED], cache, None, log, f"heldout run {n}", catalogue=small("heldout"), log=lambda s: None)
        lines = [ln for ln in log.read_text().splitlines() if "heldout run" in ln]
        assert len(lines) == n
    assert "emotion.rtneural.json" in lines[-1] and "| 2 |" in lines[-1]
    run("dev", [SHIPPED], cache, None, log, "dev run", catalogue=small("dev"), log=lambda s: None)
    assert "dev run" not in log.read_text()


def test_level_and_tempo_figures_of_known_values():
    # a level meter: each track's arousal drops by 0.5 at -12 dB and 1.0 at -24 dB; spread across tracks is 1
    base = {"t0": 0.0, "t1": 1.0, "t2": 2.0}
    values = {
        k: {
            "0dB": (0.1, a),
            "-12dB": (0.1, a - 0.5),
            "-24dB": (0.1, a - 1.0),
            "x1.25": (0.0, a + (0.1 if k != "t2" else -0.1)),
            "x0.8": (0.0, a),
        }
        for k, a in base.items()
    }
    c = checks(values, ("valence", "arousal"))
    assert c["level-12_arousal"]["shift_over_spread"] == pytest.approx(0.5)
    assert c["level-24_arousal"]["shift_over_spread"] == pytest.approx(1.0)
    assert c["level-12_arousal"]["softer_lower"] == 3
    assert c["level-12_valence"]["softer_lower"] == 0
    assert c["tempo_arousal"] == {"faster_higher": 2, "share": pytest.approx(2 / 3)}


def test_consistency_pairs_are_stretched_excerpts_with_relative_labels(cache, tmp_path):
    """stretch_recorded: excerpts at 0.8x and 1.25x speed, labels that say only the tempo rule's difference."""
    import soundfile as sf

    from kelly_jack.training import pipeline
    from kelly_jack.training.dataset import corpus_items
    from kelly_jack.training.mlp import TrainConfig
    from kelly_jack.training.recorded_pairs import make, pair_difference

    track = tracks(small("dev")[0], cache)[0]
    out = tmp_path / "pairs"
    assert make([track], out, per_track=2, seconds=6.0, log=lambda m: None) == 2
    items = corpus_items(out)
    assert len(items) == 4 and all(it.relative for it in items)
    dv, da = pair_difference()
    for slow, fast in zip(items[::2], items[1::2], strict=True):
        assert sf.info(str(slow.audio)).duration == pytest.approx(6.0 / 0.8, abs=0.05)
        assert sf.info(str(fast.audio)).duration == pytest.approx(6.0 * 0.8, abs=0.05)
        assert (fast.valence - slow.valence, fast.arousal - slow.arousal) == pytest.approx((dv, da), abs=1e-4)
    with pytest.raises(ValueError, match="GRU only"):
        pipeline.run(items, TrainConfig(max_epochs=1))


def test_consistency_pairs_take_training_only_packages(cache):
    from kelly_jack.training.recorded_pairs import pairable_tracks

    got = pairable_tracks([ASC.name], cache, catalogue=small("train"))
    assert [t.package for t in got] == [ASC.name, ASC.name]


def test_training_only_packages_are_in_neither_checked_set():
    from kelly_jack.training.recorded import packages_of

    names = [p.name for p in PACKAGES]
    assert len(names) == len(set(names))
    checked = {p.name for split in ("dev", "heldout") for p in packages_of(split)}
    training = {p.name for p in packages_of("train")}
    assert training and not training & checked


def test_consistency_pairs_refuse_held_out_packages(tmp_path):
    from kelly_jack.training.recorded_pairs import pairable_tracks
    from kelly_jack.training.stretch import StretchError

    with pytest.raises(StretchError, match="warzone2100-music: not a development or training package"):
        pairable_tracks(["warzone2100-music"], tmp_path)


def test_the_script_and_the_model_card_list_every_package_with_its_set_and_track_count():
    import re

    script = (REPO / "scripts" / "eval_recorded.py").read_text()
    card = (REPO / "models" / "README.md").read_text()
    in_script = set(re.findall(r"^\| ([a-z0-9.-]+) \| (dev|heldout) \| .* \| (\d+) \|$", script, re.M))
    words = {"development": "dev", "held out": "heldout", "training only": "train"}
    in_card = {
        (name, words[split], n)
        for split, name, n in re.findall(
            r"^\| (development|held out|training only) \| ([a-z0-9.-]+) \| .* \| (\d+) \|$", card, re.M
        )
    }
    catalogue = {(p.name, p.split, str(p.max_tracks)) for p in PACKAGES}
    assert in_script == {c for c in catalogue if c[1] != "train"}
    assert in_card == catalogue


def test_sign_test_is_the_binomial_tail():
    assert sign_test(3, 0) == pytest.approx(1 / 8)
    assert sign_test(5, 3) == pytest.approx(93 / 256)  # C(8,5..8) = 56 + 28 + 8 + 1
    assert sign_test(0, 4) == 1.0 and sign_test(0, 0) == 1.0


def two_package_report() -> dict:
    """A report of a model and the peer over packages a (3 tracks) and b (2 tracks), values made up."""
    rng = np.random.default_rng(7)
    keys = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b"}
    variants = ("0dB", "-12dB", "-24dB", "x1.25", "x0.8")

    def values():
        return {k: {v: tuple(float(x) for x in rng.normal(size=2)) for v in variants} for k in keys}

    return {
        "set": "heldout",
        "tracks": [{"key": k, "package": p} for k, p in keys.items()],
        "systems": {"kelly m": {"model": "m", "sha256": "s"}, "VibeNet x": {"peer": True}},
        "values": {"kelly m": values(), "VibeNet x": values()},
    }


def test_a_subset_gives_the_figures_of_its_packages_tracks_alone():
    report = summarise(two_package_report())
    only_a = subset(report, ["a"])
    for name, dims in (("kelly m", ("valence", "arousal")), ("VibeNet x", ("valence", "energy"))):
        vals_a = {k: v for k, v in report["values"][name].items() if k.startswith("a")}
        expected = checks(vals_a, dims)
        assert {k: only_a["systems"][name][k] for k in expected} == expected
        assert set(only_a["systems"][name]["tempo_by_package"]) == {"a"}
        assert report["systems"][name]["tempo_by_package"]["a"] == only_a["systems"][name]["tempo_by_package"]["a"]
    vs = only_a["systems"]["kelly m"]["tempo_vs_peer"]
    assert all(k.startswith("a") for k in vs["only_this"] + vs["only_peer"])
    assert report["systems"]["kelly m"]["tracks"] == 5  # the full report is left as it was
    with pytest.raises(RecordedError, match="package c: not in the report"):
        subset(report, ["c"])


def test_a_saved_report_is_tabled_again_for_some_packages_without_a_look(tmp_path, capsys):
    import json

    from support.scripts_main import script_main

    main = script_main("eval_recorded")
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(summarise(two_package_report())))
    looks = tmp_path / "looks.md"
    assert main(["--from-report", str(saved), "--package", "b", "--looks-log", str(looks)]) == 0
    out = capsys.readouterr().out
    assert "2 tracks" in out and "| tempo, b |" in out and "| tempo, a |" not in out
    assert not looks.exists()
    raw = tmp_path / "values-only.json"  # figures are recomputed from the values, never read back
    raw.write_text(json.dumps(two_package_report()))
    assert main(["--from-report", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "5 tracks" in out and "| tempo, a |" in out and "| tempo, b |" in out and "sign test" in out
    assert main(["--from-report", str(saved), "--package", "c"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "package c" in err[0] and str(saved) in err[0]
