"""The inference thread on a server at another rate than analysis.rate: the window is resampled first."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.backends import FunctionBackend
from kelly_jack.engine.state import SharedState
from kelly_jack.inference import InferenceThreadManager
from kelly_jack.rt import ring
from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor
from kelly_jack.rt.features import layout as L
from kelly_jack.rt.shared_state import I_BAD_SAMPLES, I_RESULTS

from support import recordings as rec

ANALYSIS, WINDOW = 48000, 2048


def chord(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return sum(0.2 / h * np.sin(2 * np.pi * f * h * t) for f in (261.63, 329.63, 392.0) for h in (1, 2, 3))


def live(server_rate: int, x: np.ndarray, hop: int) -> tuple[InferenceThreadManager, list[np.ndarray]]:
    state = SharedState(1, audio_frames=1 << 16)
    rows = []
    m = InferenceThreadManager(
        state,
        FunctionBackend(lambda f: (rows.append(f.copy()), np.zeros(64))[1]),
        WINDOW,
        hop,
        -1,
        -1,
        rate=server_rate,
        analysis_rate=ANALYSIS,
    )
    m._resync()
    x = x.astype(np.float32)
    for start in range(0, x.size - 256 + 1, 256):
        w = state.audio_hdr[ring.H_WRITE]
        ring.copy_in(state.audio[0], w, x[start : start + 256], 256)
        ring.producer_commit(state.audio_hdr, 256)
        while m.process_available():
            pass
    return m, rows


def reference(ends: list[int], server_rate: int, hop: int) -> np.ndarray:
    """The features of the windows ending at server frames ``ends``, streamed at the analysis rate.

    The extractor is stateful (the chroma looks at the last 0.68 s), so the
    reference streams the same windows, made from the chord at 48 kHz, with
    the live extractor's (fractional) hop in analysis samples.
    """
    fx = FeatureExtractor(ANALYSIS, WINDOW, hop * ANALYSIS / server_rate)
    x = chord(ANALYSIS, ends[-1] / server_rate + 0.1).astype(np.float32)
    out = np.zeros(FEATURE_SIZE, dtype=np.float32)
    for e in ends:
        end = int(round(e * ANALYSIS / server_rate))
        fx.compute(x[end - WINDOW : end], out)
    return out


@pytest.mark.parametrize("server_rate", [44100, 96000])
def test_features_at_another_server_rate_match_the_analysis_rate(server_rate):
    hop = int(round(1024 * server_rate / ANALYSIS))
    m, rows = live(server_rate, chord(server_rate, 1.0), hop)
    assert m.resampler is not None and m.window == int(np.ceil((WINDOW + 128) * server_rate / ANALYSIS))
    assert len(rows) == m.counters[I_RESULTS] > 10
    last = m._next_end - hop
    got, ref = rows[-1], reference([last - k * hop for k in range(len(rows) - 1, -1, -1)], server_rate, hop)
    loud = ref[L.MEL : L.MEL + 64] > ref[L.MEL : L.MEL + 64].max() - 40
    assert np.abs(got[L.MEL : L.MEL + 64] - ref[L.MEL : L.MEL + 64])[loud].max() < 0.01  # dB; 4e-4 measured
    assert got[L.CENTROID] == pytest.approx(ref[L.CENTROID], rel=1e-3)
    # the chroma's 0.68 s history is spliced from resampled windows (each hop's newest samples, the
    # fractional hop rounded to whole ones): 6e-3 measured at 44.1 kHz
    assert np.abs(got[L.CHROMA : L.CHROMA + 12] - ref[L.CHROMA : L.CHROMA + 12]).max() < 0.02
    # relative to a level reference that integrates the history of slightly different (resampled) windows:
    # 1.1e-3 dB measured at 44.1 kHz
    assert got[L.LEVEL_DB] == pytest.approx(ref[L.LEVEL_DB], abs=3e-3)


def test_without_resampling_the_window_is_the_server_frames():
    m, rows = live(ANALYSIS, chord(ANALYSIS, 0.5), 1024)
    assert m.resampler is None and m.window == WINDOW and len(rows) > 5


def test_non_finite_samples_are_counted_and_zeroed_before_resampling():
    x = rec.noise(1.0, seed=4) * 0.1
    x[::1000] = np.nan
    m, rows = live(96000, x, 2048)
    assert m.counters[I_BAD_SAMPLES] > 0
    assert all(np.isfinite(r).all() for r in rows)
    assert rows[-1][L.LEVEL_DB] > -40.0  # one NaN did not silence (or poison) the whole window


def test_a_window_the_ring_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="needs 17408 frames at 384000 Hz; the audio ring holds 16384"):
        InferenceThreadManager(
            SharedState(1, audio_frames=1 << 14), None, WINDOW, 1024, rate=384000, analysis_rate=ANALYSIS
        )
