"""The key of a Standard MIDI File read from its score: a Krumhansl-Kessler estimate and the key signature.

The composition check (``scripts/eval_compositions.py``) labels each piece major or minor from the
notes, never from the audio, so the label cannot share a bias with the model it judges.

Contracts:

* ``notes(mid)`` lists every note of the file as ``(start, end, pitch, channel)`` in seconds (the
  tempo map applied by mido), drums excluded (channel 10, index 9). A note-on with velocity 0 is a
  note-off; overlapping notes of one pitch and channel close first-in first-out; a note never
  closed ends at the end of the file.
* ``histogram(notes, start, seconds)`` sums, per pitch class, how long notes sound inside
  ``[start, start + seconds)`` (duration-weighted, overlaps clipped to the span).
* ``estimate(hist)`` correlates the histogram (Pearson) with the 12 rotations of the Krumhansl-
  Kessler major and minor probe-tone profiles (Krumhansl 1990). The key is the best of the 24;
  ``margin`` is the best major correlation minus the best minor one (positive: major). A flat or
  empty histogram correlates 0 with everything (margin 0). ``clear(key, min_margin)`` keeps a
  piece when ``|margin| >= min_margin``: the score leans to one mode by that much.
* ``key_signature(mid, start)`` is the last ``key_signature`` meta message at or before ``start``
  seconds (else the first one in the file) as ``(tonic pitch class, "major" | "minor")``, or
  None when the file has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

DRUM_CHANNEL = 9  # General MIDI channel 10
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# mido's key_signature names: C, C#, Db, ... with an "m" suffix for minor.
_PC = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6, "G": 7}
_PC |= {"G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11, "Cb": 11}


@dataclass(frozen=True)
class Key:
    """A key estimate: tonic pitch class (0 = C), mode, the best major and minor correlations and their difference."""

    tonic: int
    mode: str  # "major" or "minor"
    r_major: float
    r_minor: float

    @property
    def margin(self) -> float:
        return self.r_major - self.r_minor

    @property
    def name(self) -> str:
        return f"{NAMES[self.tonic]} {self.mode}"


def notes(mid: mido.MidiFile) -> list[tuple[float, float, int, int]]:
    """Every non-drum note of ``mid`` as (start s, end s, pitch, channel), sorted by start."""
    now = 0.0
    sounding: dict[tuple[int, int], list[float]] = {}
    out: list[tuple[float, float, int, int]] = []
    for msg in mid:  # merged tracks, msg.time in seconds since the previous message
        now += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        k = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault(k, []).append(now)
        elif sounding.get(k):
            out.append((sounding[k].pop(0), now, msg.note, msg.channel))
    for (ch, pitch), starts in sounding.items():
        out += [(s, now, pitch, ch) for s in starts]
    out.sort()
    return out


def histogram(
    note_list: list[tuple[float, float, int, int]], start: float = 0.0, seconds: float = np.inf
) -> np.ndarray:
    """(12,) seconds of sounding notes per pitch class within ``[start, start + seconds)``."""
    hist = np.zeros(12)
    end = start + seconds
    for s, e, pitch, _ in note_list:
        d = min(e, end) - max(s, start)
        if d > 0:
            hist[pitch % 12] += d
    return hist


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def estimate(hist: np.ndarray) -> Key:
    """The Krumhansl-Kessler key of a pitch-class histogram (see the module docstring)."""
    h = np.asarray(hist, dtype=np.float64)
    major = [_corr(h, np.roll(KK_MAJOR, t)) for t in range(12)]
    minor = [_corr(h, np.roll(KK_MINOR, t)) for t in range(12)]
    bm, bn = int(np.argmax(major)), int(np.argmax(minor))
    if major[bm] >= minor[bn]:
        return Key(bm, "major", major[bm], minor[bn])
    return Key(bn, "minor", major[bm], minor[bn])


def clear(key: Key, min_margin: float) -> bool:
    """True when the score leans to its mode by at least ``min_margin`` (best major minus best minor r)."""
    return abs(key.margin) >= min_margin


def key_signature(mid: mido.MidiFile, start: float = 0.0) -> tuple[int, str] | None:
    """The key signature in force at ``start`` seconds (else the file's first), or None; see the module docstring."""
    now = 0.0
    found: list[tuple[float, str]] = []
    for msg in mid:
        now += msg.time
        if msg.type == "key_signature":
            found.append((now, msg.key))
    if not found:
        return None
    before = [k for t, k in found if t <= start]
    name = before[-1] if before else found[0][1]
    minor = name.endswith("m")
    return _PC[name[:-1] if minor else name], "minor" if minor else "major"
