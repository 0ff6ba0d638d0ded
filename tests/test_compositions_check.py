"""The composition check's score side and figures, on MIDI made here with mido: no package is fetched.

The key estimate must call a C-major scale and cadence major (C) and an A harmonic minor one minor
(A); the clarity filter must drop a piece that leans to neither mode; the key signature is read;
the excerpt's MIDI cut must stop all sound (else fluidsynth's render never ends); the AUC must
match a hand count.
"""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from kelly_jack.training.compositions import cut_midi
from kelly_jack.training.compositions_check import MIN_MARGIN, auc, bootstrap_auc, label_piece
from kelly_jack.training.compositions_key import clear, estimate, histogram, key_signature, notes

C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
C_MAJOR_CHORDS = [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)]  # I IV V I
A_MINOR_SCALE = [57, 59, 60, 62, 64, 65, 68, 69]  # harmonic: G#
A_MINOR_CHORDS = [(45, 48, 52), (50, 53, 57), (52, 56, 59), (45, 48, 52)]  # i iv V i


def song(melody: list[int], chords: list[tuple[int, ...]], key: str | None = None, drums: bool = False) -> bytes:
    """A type-1 file: a scale in quarter notes over block chords of one bar each, 120 BPM; drums on channel 10."""
    f = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    if key:
        meta.append(mido.MetaMessage("key_signature", key=key, time=0))
    tune, harmony = mido.MidiTrack(), mido.MidiTrack()
    for n in melody:
        tune += [mido.Message("note_on", note=n, velocity=90, time=0), mido.Message("note_off", note=n, time=480)]
    for chord in chords:
        harmony += [mido.Message("note_on", channel=1, note=n, velocity=70, time=0) for n in chord]
        harmony += [
            mido.Message("note_off", channel=1, note=n, time=1920 if i == 0 else 0) for i, n in enumerate(chord)
        ]
    if drums:  # a loud, long drum note on F#: counted, it would pull the estimate away
        tune += [mido.Message("note_on", channel=9, note=42, velocity=127, time=0)]
        tune += [mido.Message("note_off", channel=9, note=42, time=960 * 8)]
    f.tracks += [meta, tune, harmony]
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def load(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def test_c_major_is_major_and_clear():
    key = estimate(histogram(notes(load(song(C_MAJOR_SCALE, C_MAJOR_CHORDS, drums=True)))))
    assert (key.tonic, key.mode) == (0, "major")
    assert key.margin >= MIN_MARGIN and clear(key, MIN_MARGIN)


def test_a_harmonic_minor_is_minor_and_clear():
    key = estimate(histogram(notes(load(song(A_MINOR_SCALE, A_MINOR_CHORDS)))))
    assert (key.tonic, key.mode) == (9, "minor")
    assert -key.margin >= MIN_MARGIN and clear(key, MIN_MARGIN)


def test_ambiguous_piece_is_dropped():
    # all twelve pitch classes for the same time: no key, no mode
    key = estimate(histogram(notes(load(song(list(range(60, 72)), [])))))
    assert not clear(key, MIN_MARGIN)
    mid = load(song(list(range(60, 72)), []))
    assert label_piece(mid, notes(mid), 0.0, 30.0, "score", MIN_MARGIN)["mode"] is None


def test_histogram_counts_only_the_excerpt():
    ns = notes(load(song(C_MAJOR_SCALE, [])))  # one note per 0.5 s from 0 s
    h = histogram(ns, 1.0, 1.0)  # E and F
    assert h[4] == pytest.approx(0.5) and h[5] == pytest.approx(0.5) and h.sum() == pytest.approx(1.0)


def test_key_signature_and_agreement():
    mid = load(song(A_MINOR_SCALE, A_MINOR_CHORDS, key="Am"))
    assert key_signature(mid) == (9, "minor")
    row = label_piece(mid, notes(mid), 0.0, 30.0, "signature", MIN_MARGIN)
    assert row["mode"] == "minor" and row["sig_key_agrees"] is True
    wrong = load(song(A_MINOR_SCALE, A_MINOR_CHORDS, key="Eb"))
    assert label_piece(wrong, notes(wrong), 0.0, 30.0, "score", MIN_MARGIN)["sig_mode_agrees"] is False
    assert key_signature(load(song(C_MAJOR_SCALE, []))) is None


def test_cut_stops_all_sound():
    cut = load(cut_midi(load(song(C_MAJOR_SCALE, C_MAJOR_CHORDS)), 1.2))
    assert max(e for _, e, _, _ in notes(cut)) <= 1.5
    last = [m for m in cut.tracks[-1] if m.type == "control_change"]
    assert {(m.channel, m.control) for m in last} >= {(c, 120) for c in range(16)}


def test_auc_hand_count():
    major, minor = np.array([0.3, 0.1, -0.2]), np.array([0.0, 0.1])
    # pairs: 0.3>0, 0.3>0.1, 0.1>0, 0.1=0.1 (half), -0.2<0, -0.2<0.1: 3.5 of 6
    assert auc(major, minor) == pytest.approx(3.5 / 6)
    assert auc(np.array([1.0, 2.0]), np.array([-1.0])) == 1.0
    assert np.isnan(auc(major, np.array([])))
    lo, hi = bootstrap_auc(major, minor, draws=200)
    assert 0.0 <= lo <= 3.5 / 6 <= hi <= 1.0
