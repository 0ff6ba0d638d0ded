"""The tempogram and articulation features, on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor
from kelly_jack.rt.features import layout as L

from support import recordings as rec

SR, WINDOW, HOP = 48000, 2048, 1024
EDGES = L.tempogram_edges()


def last_row(x, rate=SR, window=WINDOW, hop=HOP):
    fx = FeatureExtractor(rate, window, hop)
    x = np.asarray(x, dtype=np.float32)
    row = np.zeros(FEATURE_SIZE, dtype=np.float32)
    for j in range((x.size - window) // hop + 1):
        fx.compute(x[j * hop : j * hop + window], row)
    return row


def band_of(bpm):
    return max(k for k in range(L.N_TEMPOGRAM) if EDGES[k] <= bpm)


@pytest.mark.parametrize("bpm", [60.0, 90.0, 120.0, 180.0])
def test_a_click_train_lights_its_band_and_nothing_faster(bpm):
    """The click's band is periodic; bands faster than the clicks are not (the octave the model must tell)."""
    tg = last_row(rec.clicks(8.0, bpm=bpm))[L.TEMPOGRAM : L.TEMPOGRAM + L.N_TEMPOGRAM]
    k = band_of(bpm)
    # 0.3, not ~1: a period that is not a whole number of rhythm frames splits its peak between two lags
    # (180 BPM: 15.6 frames, 0.39 at lag 15 and 0.69 at lag 16, which lies in the band below)
    assert tg[k] > 0.3, tg
    assert np.all(tg[k + 1 :] < 0.15), tg
    assert np.all(np.abs(tg) <= 1.0)


def test_the_tempogram_tells_60_from_120_bpm():
    """Both click trains repeat every second; only the 120 BPM one repeats every half second."""
    k = L.TEMPOGRAM + band_of(120.0)
    slow, fast = last_row(rec.clicks(8.0, bpm=60.0)), last_row(rec.clicks(8.0, bpm=120.0))
    assert fast[k] > 0.5 and slow[k] < 0.1
    assert slow[L.TEMPOGRAM + band_of(60.0)] > 0.8 and fast[L.TEMPOGRAM + band_of(60.0)] > 0.8


def note_train(bpm, length, seconds=6.0, decay=0.0):
    """Eighth notes (three pitches in turn) at ``bpm``, each sounding ``length`` of its slot, same amplitude."""
    x = np.zeros(int(seconds * SR))
    slot = 60.0 / bpm / 2
    k = 0
    while (start := int(k * slot * SR)) < x.size:
        n = min(int(length * slot * SR), x.size - start)
        t = np.arange(n) / SR
        env = np.minimum(1, t / 0.005) * np.minimum(1, (n / SR - t) / 0.005) * np.exp(-decay * t)
        x[start : start + n] += 0.3 * np.sin(2 * np.pi * 220.0 * (k % 3 + 1) * t) * env
        k += 1
    return x


@pytest.mark.parametrize("bpm", [60.0, 120.0, 180.0])
@pytest.mark.parametrize("decay", [0.0, 4.0], ids=["organ", "decaying"])
def test_staccato_reads_a_lower_duty_cycle_and_deeper_dips_than_legato(bpm, decay):
    staccato, half, legato = (last_row(note_train(bpm, length, decay=decay)) for length in (0.25, 0.5, 0.95))
    duty = [r[L.DUTY_CYCLE] for r in (staccato, half, legato)]
    dip = [r[L.LEVEL_DIP_DB] for r in (staccato, half, legato)]
    assert duty[0] < duty[1] < duty[2] and duty[0] < 0.5 and duty[2] > 0.6, duty
    assert dip[0] < dip[1] - 5 < dip[2] - 10 and dip[0] < -20, dip
    for r in (staccato, half, legato):
        assert 0 <= r[L.DUTY_CYCLE] <= 1 and -40 <= r[L.LEVEL_DIP_DB] <= 0


def test_articulation_does_not_follow_loudness():
    """The same staccato train 20 dB quieter reads the same duty cycle and dips (they are relative to its peaks)."""
    x = note_train(120.0, 0.25)
    loud, quiet = last_row(x), last_row(0.1 * x)
    assert quiet[L.DUTY_CYCLE] == pytest.approx(loud[L.DUTY_CYCLE], abs=0.02)
    assert quiet[L.LEVEL_DIP_DB] == pytest.approx(loud[L.LEVEL_DIP_DB], abs=1.0)


def test_tempogram_bands_are_contiguous_log_spaced_and_named_by_centre():
    assert EDGES[0] == pytest.approx(40.0) and EDGES[-1] == pytest.approx(240.0)
    ratios = np.diff(np.log(EDGES))
    assert np.allclose(ratios, ratios[0])
    assert L.NAMES[L.TEMPOGRAM] == "tempogram_046" and L.NAMES[L.TEMPOGRAM + 5] == "tempogram_207"
