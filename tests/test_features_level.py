"""The level reference (layout 5): features that do not follow the input gain, and dynamics heard as change."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.rt.features import NAMES, FeatureExtractor
from kelly_jack.rt.features import layout as L
from kelly_jack.rt.features.level import TARGET_DB

from support import recordings as rec

SR, WINDOW, HOP = rec.RATE, 2048, 1024


def stream(y: np.ndarray, fx: FeatureExtractor | None = None) -> np.ndarray:
    fx = fx or FeatureExtractor(SR, WINDOW, HOP)
    y = y.astype(np.float32)
    frames = 1 + (y.size - WINDOW) // HOP
    out = np.zeros((frames, L.FEATURE_SIZE), dtype=np.float32)
    for j in range(frames):
        fx.compute(y[j * HOP : j * HOP + WINDOW], out[j])
    return out


def tone(seconds: float, amplitude: float, f0: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amplitude * (np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 3 * f0 * t))


@pytest.fixture(scope="module")
def piano(tmp_path_factory):
    return rec.piano_progression(tmp_path_factory.mktemp("piano")).astype(np.float32)


@pytest.mark.parametrize("gain_db", [-12.0, -24.0, -30.0])
def test_features_do_not_follow_the_input_gain(piano, gain_db):
    """Every feature of every sounding frame of a rendered piano take is the same at -12, -24 and -30 dB.

    Frames within 40 dB of the reference (the notes, not the dither tail); the take is quiet (-32 dBFS RMS at
    0 dB), so at -30 dB it sits at -62 dBFS. Tolerances a little above the largest deviations measured (4.2e-3,
    contrast_6, float32 rounding of the input).
    """
    base = stream(piano)
    soft = stream(piano * np.float32(10 ** (gain_db / 20)))
    sounding = base[:, L.LEVEL_DB] > -40
    assert sounding.sum() > 100
    diff = np.abs(soft - base)[sounding]
    spectral = [*range(L.MEL, L.MEL + L.N_MELS), L.LEVEL_DB, L.PASSAGE_DB]  # levels in dB against the reference
    rest = [i for i in range(L.FEATURE_SIZE) if i not in spectral and not L.MFCC <= i < L.MFCC + L.N_MFCC]
    assert diff[:, spectral].max() <= 0.01, NAMES[int(diff.max(axis=0).argmax())]
    assert diff[:, L.MFCC : L.MFCC + L.N_MFCC].max() <= 0.01 * np.sqrt(L.N_MELS)  # the DCT of a 0.01 dB error
    assert diff[:, rest].max() <= 0.006, NAMES[rest[int(diff[:, rest].max(axis=0).argmax())]]


def test_without_the_reference_the_log_mel_would_follow_the_gain(piano):
    """The property above is the reference's doing: the analysis gain moves by exactly the input gain."""
    fx0, fx1 = FeatureExtractor(SR, WINDOW, HOP), FeatureExtractor(SR, WINDOW, HOP)
    quiet = piano * np.float32(10 ** (-12 / 20))
    gains = []
    for j in range(40):
        out = np.zeros(L.FEATURE_SIZE, dtype=np.float32)
        fx0.compute(piano[j * HOP : j * HOP + WINDOW], out)
        fx1.compute(quiet[j * HOP : j * HOP + WINDOW], out)
        gains.append(20 * np.log10(fx1.analysis_gain() / fx0.analysis_gain()))
    assert np.allclose(gains, 12.0, atol=1e-3)


def test_a_step_up_reads_loud_then_the_reference_follows():
    """A 12 dB step: level_db and passage_db jump above 0, then fall back as the reference follows (2 s attack).

    The reference follows in dB: 0.5 s after the step it has closed 22 % of the 12 dB (level_db 9.3 dB).
    """
    y = np.concatenate([tone(6.0, 0.05), tone(12.0, 0.2)])
    rows = stream(y)
    fps = SR / HOP
    before = rows[int(5.5 * fps)]
    after = rows[int(6.5 * fps)]
    settled = rows[int(17.5 * fps)]
    assert abs(before[L.LEVEL_DB]) < 0.5 and abs(before[L.PASSAGE_DB]) < 0.5
    assert 8.0 < after[L.LEVEL_DB] < 10.5 and after[L.PASSAGE_DB] > 6.0
    assert abs(settled[L.LEVEL_DB]) < 1.0 and abs(settled[L.PASSAGE_DB]) < 1.0


def test_a_rest_does_not_drag_the_reference_down():
    """Two seconds of silence between phrases: the tone after the rest reads where it did before (the gates)."""
    y = np.concatenate([tone(4.0, 0.1), np.zeros(2 * SR), tone(2.0, 0.1)])
    fx = FeatureExtractor(SR, WINDOW, HOP)
    rows = stream(y, fx)
    fps = SR / HOP
    assert rows[int(3.5 * fps), L.LEVEL_DB] == pytest.approx(0.0, abs=0.5)
    assert rows[int(5.5 * fps), L.LEVEL_DB] == -80.0  # the floor in the rest
    assert rows[int(7.0 * fps), L.LEVEL_DB] == pytest.approx(0.0, abs=0.5)


def test_reset_forgets_the_reference_and_the_input_is_not_scaled():
    fx = FeatureExtractor(SR, WINDOW, HOP)
    stream(tone(3.0, 0.3), fx)
    assert fx.analysis_gain() == pytest.approx(10 ** (TARGET_DB / 20) / (0.3 * np.sqrt(1.09 / 2)), rel=2e-3)
    fx.reset()
    quiet = tone(1.0, 0.003).astype(np.float32)
    kept = quiet.copy()
    out = np.zeros(L.FEATURE_SIZE, dtype=np.float32)
    fx.compute(quiet[:WINDOW], out)
    assert out[L.LEVEL_DB] == pytest.approx(0.0, abs=0.01)  # the first sound after a reset is the reference
    assert np.array_equal(quiet, kept)  # the caller's samples (the audio path's) are untouched


def test_skipped_hops_keep_the_reference():
    """When the inference thread skips hops the state is not reset: the next hop reads against the old reference."""
    y = np.concatenate([tone(3.0, 0.1), tone(3.0, 0.4)]).astype(np.float32)
    fx = FeatureExtractor(SR, WINDOW, HOP)
    out = np.zeros(L.FEATURE_SIZE, dtype=np.float32)
    for j in range(int(2.5 * SR / HOP)):
        fx.compute(y[j * HOP : j * HOP + WINDOW], out)
    j = int(3.2 * SR / HOP)  # 0.7 s of hops skipped
    fx.compute(y[j * HOP : j * HOP + WINDOW], out)
    assert out[L.LEVEL_DB] > 9.0  # 12 dB over the old reference, less one hop's attack


def test_silence_and_non_finite_audio_stay_finite():
    fx = FeatureExtractor(SR, WINDOW, HOP)
    y = np.zeros(WINDOW, dtype=np.float32)
    y[::7] = np.nan
    out = np.zeros(L.FEATURE_SIZE, dtype=np.float32)
    for _ in range(4):
        fx.compute(y, out)
    assert np.isfinite(out).all() and fx.analysis_gain() == 1.0
