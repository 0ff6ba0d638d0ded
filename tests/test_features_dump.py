"""``kelly-jack features``: real audio files in, rows equal to the live path's, sidecar, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kelly_jack.offline.features_dump import dump_features, first_window_end
from kelly_jack.rt.features import FEATURE_SIZE, LAYOUT_VERSION, NAMES, FeatureExtractor, mix_to_mono
from kelly_jack.rt.features import layout as L

from support import recordings as rec
from support.jackd import ROOT


def kelly(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kelly_jack", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def stereo(seconds=5.0):
    left = rec.chords(seconds)
    right = rec.clicks(seconds)
    return np.stack([left, right], axis=1).astype(np.float32)


def live_rows(audio: np.ndarray, window: int, hop: int, channel: int = -1) -> np.ndarray:
    """What the inference thread computes: windows on its grid, mixed by its kernel from a ring."""
    frames, channels = audio.shape
    capacity = 1 << int(np.ceil(np.log2(frames)))
    ring = np.zeros((channels, capacity), dtype=np.float32)
    ring[:, :frames] = audio.T
    fx = FeatureExtractor(48000, window, hop)
    buf = np.zeros(window, dtype=np.float32)
    rows = []
    end = first_window_end(window, hop)
    while end <= frames:
        mix_to_mono(ring, end - window, window, channel, buf)
        out = np.zeros(FEATURE_SIZE, dtype=np.float32)
        fx.compute(buf, out)
        rows.append(out)
        end += hop
    return np.array(rows)


@pytest.mark.parametrize(("window", "hop"), [(2048, 1024), (2048, 768)])
def test_rows_sidecar_and_equality_with_the_live_path(tmp_path, window, hop):
    audio = stereo()
    wav = tmp_path / "in.wav"
    sf.write(wav, audio, 48000, subtype="FLOAT")
    cfg = tmp_path / "k.yaml"
    cfg.write_text(f"analysis:\n  window: {window}\n  hop: {hop}\n")
    out = tmp_path / "f.npy"
    r = kelly("features", str(wav), "-o", str(out), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    rows = np.load(out)
    first = first_window_end(window, hop)
    assert first == (2048 if hop == 1024 else 2304)
    assert rows.shape == ((audio.shape[0] - first) // hop + 1, 128) and rows.dtype == np.float32
    assert np.array_equal(rows, live_rows(audio, window, hop))
    meta = json.loads((tmp_path / "f.json").read_text())
    assert meta["names"] == list(NAMES) and meta["layout_version"] == LAYOUT_VERSION
    assert (meta["sample_rate"], meta["window"], meta["hop"], meta["rows"]) == (48000, window, hop, rows.shape[0])
    assert meta["first_window_end"] == first and meta["resampled"] is False and meta["channel"] == "mix"
    assert "resampled" not in r.stderr and f"{rows.shape[0]} rows" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "f.npy", "in.wav", "k.yaml"]


def test_a_configured_channel_is_analysed_alone(tmp_path):
    audio = stereo(3.0)
    sf.write(tmp_path / "in.wav", audio, 48000, subtype="PCM_24")
    read = sf.read(tmp_path / "in.wav", dtype="float32", always_2d=True)[0]
    r = dump_features(tmp_path / "in.wav", tmp_path / "right.npy", channel=1)
    assert r.rows > 0
    assert np.array_equal(np.load(tmp_path / "right.npy"), live_rows(read, 2048, 1024, channel=1))


def test_other_rates_and_formats_are_resampled_with_a_note(tmp_path):
    x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(44100 * 3) / 44100)
    src = tmp_path / "sine44k.flac"
    sf.write(src, x, 44100)
    out = tmp_path / "s.npy"
    r = kelly("features", str(src), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert f"note: {src} is at 44100 Hz; resampled to 48000 Hz" in r.stderr
    rows = np.load(out)
    assert rows.shape[0] == (3 * 48000 - 2048) // 1024 + 1  # soxr keeps the duration exactly
    meta = json.loads((tmp_path / "s.json").read_text())
    assert meta["resampled"] is True and meta["source_sample_rate"] == 44100 and meta["sample_rate"] == 48000
    steady = rows[3:-3]
    assert np.allclose(steady[:, L.CENTROID], 1000.0, rtol=0.02)  # the pitch survived resampling
    assert np.allclose(steady[:, L.LEVEL_DB], 0.0, atol=0.05)  # a steady tone sits at its level reference


def test_long_file_with_progress_bar_still_writes_every_row(tmp_path):
    src = tmp_path / "long.wav"
    sf.write(src, rec.noise(35.0).astype(np.float32), 48000)
    r = dump_features(src, tmp_path / "long.npy", progress=True)
    assert r.rows == (35 * 48000 - 2048) // 1024 + 1 == np.load(tmp_path / "long.npy").shape[0]


def test_short_file_gives_no_rows_and_a_note(tmp_path):
    sf.write(tmp_path / "short.wav", np.zeros(1000, dtype=np.float32), 48000)
    r = kelly("features", str(tmp_path / "short.wav"), "-o", str(tmp_path / "s.npy"))
    assert r.returncode == 0 and "shorter than one window" in r.stderr
    assert np.load(tmp_path / "s.npy").shape == (0, 128)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.wav", "missing.wav: no such file"),
        (lambda d: (d / "junk.wav").write_bytes(b"not audio at all" * 10) and d / "junk.wav", "cannot read audio"),
        (lambda d: d, "is a directory"),
    ],
    ids=["missing", "junk", "directory"],
)
def test_unreadable_input_is_one_line_exit_2_and_writes_nothing(tmp_path, make, words):
    src = make(tmp_path)
    out = tmp_path / "out" / "f.npy"
    out.parent.mkdir()
    r = kelly("features", str(src), "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("kelly-jack: ") and words in r.stderr, r.stderr
    assert list(out.parent.iterdir()) == []


def test_bad_output_and_channel_are_one_line_errors(tmp_path):
    sf.write(tmp_path / "mono.wav", np.zeros(4096, dtype=np.float32), 48000)
    r = kelly("features", str(tmp_path / "mono.wav"), "-o", str(tmp_path / "nodir" / "f.npy"))
    assert r.returncode == 2 and "does not exist" in r.stderr and r.stderr.count("\n") == 1
    r = kelly("features", str(tmp_path / "mono.wav"), "-o", str(tmp_path / "f.csv"))
    assert r.returncode == 2 and "must be a .npy file" in r.stderr
    cfg = tmp_path / "k.yaml"
    cfg.write_text("analysis: {channel: 2}\n")
    r = kelly("features", str(tmp_path / "mono.wav"), "-o", str(tmp_path / "f.npy"), "--config", str(cfg))
    assert r.returncode == 2 and "has 1 channel(s); analysis.channel is 2" in r.stderr, r.stderr
    assert not (tmp_path / "f.npy").exists()
