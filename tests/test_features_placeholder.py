"""The layout-0 placeholder features: values on known signals, and finite output for bad audio."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.rt.features import FEATURE_SIZE, compute_features, mix_to_mono


def features(x):
    out = np.full(FEATURE_SIZE, 99.0, dtype=np.float32)
    bad = compute_features(np.asarray(x, dtype=np.float32), out)
    return out, bad


def test_sine_rms_peak_and_zero_crossings():
    n = 124 * 48  # each envelope block holds one whole 1 kHz cycle
    x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / 48000 + 0.1)
    f, bad = features(x)
    assert bad == 0
    assert f[0] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert f[1] == pytest.approx(0.5, rel=1e-3)
    assert f[2] == pytest.approx(2 * 1000 / 48000, rel=0.02)
    assert f[3] == pytest.approx(0.0, abs=1e-3)
    assert np.allclose(f[4:], 0.5 / np.sqrt(2), rtol=1e-3)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(2048),
        np.full(2048, 0.3),
        np.clip(10 * np.sin(np.arange(2048) * 0.01), -1, 1),
        np.full(2048, 1e-40),
        np.eye(1, 2048)[0],
        np.full(2048, np.nan),
        np.where(np.arange(2048) % 7 == 0, np.inf, 0.1),
        np.where(np.arange(2048) % 5 == 0, -np.inf, np.nan),
    ],
    ids=["silence", "dc", "clipped", "denormal", "impulse", "nan", "inf", "mixed"],
)
def test_bad_audio_gives_finite_features(signal):
    f, bad = features(signal)
    assert np.all(np.isfinite(f))
    assert bad == int(np.sum(~np.isfinite(signal.astype(np.float32))))


def test_mix_to_mono_averages_or_picks_a_channel():
    data = np.zeros((2, 8), dtype=np.float32)
    data[0] = np.arange(8)
    data[1] = 10
    out = np.zeros(4, dtype=np.float32)
    mix_to_mono(data, 6, 4, -1, out)  # wraps around
    assert list(out) == [8.0, 8.5, 5.0, 5.5]
    mix_to_mono(data, 6, 4, 1, out)
    assert list(out) == [10, 10, 10, 10]
