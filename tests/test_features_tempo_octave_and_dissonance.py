"""The tempo octave and harmonic dissonance features, on signals whose answer is known."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor, tables
from kelly_jack.rt.features import layout as L
from kelly_jack.rt.features.consonance import dissonance
from kelly_jack.rt.features.rhythm import TEMPO_S, compress, tempo

from support import recordings as rec

SR, WINDOW, HOP = 48000, 2048, 1024
FPS = SR / HOP


def rows_of(x, rate=SR, window=WINDOW, hop=HOP):
    fx = FeatureExtractor(rate, window, hop)
    x = np.asarray(x, dtype=np.float32)
    rows = np.zeros(((x.size - window) // hop + 1, FEATURE_SIZE), dtype=np.float32)
    for j in range(rows.shape[0]):
        fx.compute(x[j * hop : j * hop + window], rows[j])
    return rows


def _tone(midi, seconds, amp, decay=3.0):
    """A decaying harmonic tone (4 partials, 5 ms attack) of MIDI pitch ``midi``."""
    t = np.arange(int(seconds * SR)) / SR
    f = 440.0 * 2 ** ((midi - 69) / 12)
    env = np.exp(-decay * t) * np.minimum(1.0, t / 0.005)
    return amp * env * sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3, 4))


def melody_over_block_chords(bpm, chord_amp, seconds=8.0):
    """A melody note on every beat over a louder five-note chord every second beat (the corpus's block texture)."""
    beat = 60.0 / bpm
    x = np.zeros(int(seconds * SR) + SR)
    melody = (72, 74, 76, 77, 79, 77, 76, 74)
    k = 0
    while k * beat < seconds:
        s = int(k * beat * SR)
        m = _tone(melody[k % 8], beat, 0.12)
        x[s : s + m.size] += m
        if k % 2 == 0:
            for p in (48, 52, 55, 60, 64):
                c = _tone(p, 2 * beat, chord_amp)
                x[s : s + c.size] += c
        k += 1
    return x[: int(seconds * SR)]


def whole_lag_tempo(onset):
    """A numpy reference of the plain estimate: whole lags of the raw onset strength, harmonic weighting, prior."""
    n = int(round(TEMPO_S * FPS))
    e = np.asarray(onset[-n:], dtype=np.float64)
    e = e - e.mean()
    lags = tables.tempo_lags(FPS, n)
    prior = np.exp(-0.5 * np.log2(60 * FPS / lags / 120) ** 2)

    def ac(g):
        return (e[g:] * e[:-g]).sum() / ((e.size - g) * (e * e).mean()) if 0 < g < e.size - 1 else 0.0

    top = min(2 * lags[-1] + 1, e.size - 2)
    score = []
    for g in lags:
        a = ac(g)
        if 2 * g + 1 <= top:
            a = 0.5 * (a + max(ac(2 * g - 1), ac(2 * g), ac(2 * g + 1)))
        score.append(a)
    return 60 * FPS / lags[int(np.argmax(prior * np.array(score)))]


@pytest.mark.parametrize(("bpm", "chord_amp"), [(150.0, 0.25), (165.0, 0.4)])
def test_a_melody_over_loud_chords_gets_its_beat_where_raw_onsets_halve_it(bpm, chord_amp):
    """The chords' two-beat period outweighed the melody's beat in the raw onsets; compressed, each note counts."""
    rows = rows_of(melody_over_block_chords(bpm, chord_amp))
    assert whole_lag_tempo(rows[:, L.ONSET_STRENGTH]) == pytest.approx(bpm / 2, rel=0.04)  # raw onsets: octave error
    assert rows[-1, L.TEMPO] == pytest.approx(bpm, rel=0.02)


@pytest.mark.parametrize("bpm", [67.0, 93.0, 110.4, 127.0, 135.6, 155.0])
def test_click_tempo_is_read_between_whole_lags(bpm):
    """Periods of fractional rhythm frames (155 BPM: 18.15 frames) are read to 1 %, not to the nearest lag.

    (Layout 3 read 110.4 as 112.5 and 135.6 as 133.9. Isochronous clicks above about 160 BPM are as periodic at
    half the tempo, and the 120 BPM prior then picks the half in both layouts: docs/features.md.)
    """
    rows = rows_of(rec.clicks(8.0, bpm=bpm))
    assert rows[-1, L.TEMPO] == pytest.approx(bpm, rel=0.01)


def test_tempo_grid_and_its_prior():
    periods, prior = tables.tempo_grid(FPS)
    bpm = 60 * FPS / periods
    assert bpm[0] == pytest.approx(240.0) and bpm[-1] == pytest.approx(40.0, rel=0.015)
    assert np.allclose(np.diff(np.log2(bpm)), -1 / tables.TEMPO_GRID_PER_OCTAVE)
    assert prior[np.argmin(np.abs(bpm - 120))] == pytest.approx(1.0, abs=1e-3)
    assert prior[np.argmin(np.abs(bpm - 60))] == pytest.approx(np.exp(-0.5), rel=0.01)


def test_tempo_kernel_on_flat_or_short_envelopes_gives_zero():
    periods, prior = tables.tempo_grid(FPS)
    lags = tables.tempo_lags(FPS, 281)
    acf, scores, out = np.zeros(len(lags) + 2 * lags[-1] + 2), np.zeros(len(periods)), np.ones(3)
    for env in (np.zeros(281), np.full(281, 5.0), np.ones(10)):
        tempo(env.copy(), env.size, lags, periods, prior, acf, scores, FPS, out)
        assert out[0] == 0.0 and out[1] == 0.0


def test_compress_keeps_order_and_zero():
    env = np.array([0.0, 0.1, 1.0, 10.0, 40.0, -1.0])
    compress(env, env.size, 0.3)
    assert env[0] == 0.0 and env[-1] == 0.0 and np.all(np.diff(env[:5]) > 0)
    assert env[4] / env[2] < 4.0  # 40 dB against 1 dB: compressed to a ratio under 4


def _chord_render(tmp: Path, notes, program, name) -> np.ndarray:
    """``notes`` held for 4 s on General MIDI ``program``, rendered by fluidsynth at 48 kHz (mono)."""
    import mido

    font = next((f for f in rec.SOUNDFONTS if Path(f).exists()), None)
    if font is None:
        pytest.fail("no General MIDI soundfont (scripts/setup installs timgm6mb-soundfont)")
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, time=0))
    for n in notes:
        track.append(mido.Message("note_on", note=n, velocity=90, time=0))
    for i, n in enumerate(notes):
        track.append(mido.Message("note_off", note=n, velocity=0, time=mid.ticks_per_beat * 8 if i == 0 else 0))
    midi, wav = tmp / f"{name}.mid", tmp / f"{name}.wav"
    mid.save(midi)
    cmd = [rec._need("fluidsynth"), "-ni", "-q", "-g", "0.8", "-r", str(SR), "-F", str(wav), font, str(midi)]
    subprocess.run(cmd, check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64", always_2d=True)
    assert rate == SR
    return x.mean(axis=1)


TRIAD = (48, 52, 55, 60)  # C major, the root doubled
CLUSTER = (48, 49, 52, 54, 55, 60)  # the corpus's cluster: a minor second and a tritone over the root


@pytest.mark.parametrize(("program", "instrument"), [(0, "piano"), (48, "strings"), (19, "organ")])
def test_a_cluster_is_more_dissonant_than_a_triad_on_the_same_instrument(tmp_path, program, instrument):
    triad = rows_of(_chord_render(tmp_path, TRIAD, program, "triad"))[40:80]
    cluster = rows_of(_chord_render(tmp_path, CLUSTER, program, "cluster"))[40:80]
    # a triad has no dissonant interval class; what it shows comes from partials (the 7th harmonic is a minor seventh)
    assert triad[:, L.DISSONANCE].max() < 0.25, instrument
    assert cluster[:, L.DISSONANCE].min() > triad[:, L.DISSONANCE].max() + 0.2, instrument
    assert cluster[-1, L.DISSONANCE_MEAN] > triad[-1, L.DISSONANCE_MEAN] + 0.2, instrument


def test_dissonance_of_synthetic_chords_orders_the_chord_colours():
    """Triad < seventh < cluster, each held 3 s on the same harmonic tone."""
    values = []
    for notes in ((48, 52, 55), (48, 52, 55, 58), (48, 49, 52, 54, 55)):
        x = sum(_tone(p, 3.0, 0.15, decay=0.2) for p in notes)
        values.append(rows_of(x)[-1, L.DISSONANCE_MEAN])
    assert values[0] < values[1] < values[2], values
    assert values[0] < 0.1


def test_dissonance_kernel_values_and_bad_input():
    ring, out = np.zeros(4), np.zeros(2)
    single = np.eye(12)[0]
    dissonance(single, 0, ring, out)
    assert out[0] == 0.0 and out[1] == 0.0  # one pitch class: no interval at all
    triad = np.zeros(12)
    triad[[0, 4, 7]] = 1.0
    dissonance(triad, 1, ring, out)
    assert out[0] == 0.0  # major third, minor third, fifth: classes 4, 3, 5
    semitone = np.zeros(12)
    semitone[[0, 1]] = 1.0
    dissonance(semitone, 2, ring, out)
    assert out[0] == 1.0 and out[1] == pytest.approx(1.0 / 3.0)  # mean over the 3 hops seen
    everything = np.ones(12)
    dissonance(everything, 3, ring, out)
    assert out[0] == pytest.approx(30.0 / 66.0)  # 12 + 12 + 6 of the 66 pairs are classes 1, 2, 6
    for bad in (np.full(12, np.nan), np.full(12, np.inf), np.where(np.arange(12) % 2, np.nan, 1.0), np.zeros(12)):
        dissonance(bad, 4, ring, out)
        assert np.all(np.isfinite(out)) and 0.0 <= out[0] <= 1.0
