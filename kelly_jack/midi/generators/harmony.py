"""``harmony``: emotion-driven chords and arpeggios.

What follows what (valence v and arousal a, both -1..1, at each bar start):

* mode from v: lydian (v >= 0.5), major (0.1..0.5), dorian (-0.1..0.1),
  minor (-0.5..-0.1), phrygian (v < -0.5); a mode changes only at a bar line
  and only when v is more than 0.05 past the boundary (no flapping);
* progression (scale degrees, one chord a bar) from the quadrant of the
  valence-arousal plane: bright and active I-V-vi-IV, bright and calm
  I-iii-IV-I, dark and calm i-iv-VI-v, dark and active i-II-i-VII (with
  phrygian's flat second); a seventh is added when a < -0.3;
* density and articulation from a: below -0.6 a sustained chord a bar,
  otherwise an arpeggio of 1, 2, 3 or 4 notes a beat over the chord (steps at
  -0.2, 0.2 and 0.6);
  note length from 95 % of the step (legato, calm) down to 45 % (staccato);
* velocity from a (40 at -1 to 100 at +1), downbeats 8 louder;
* register from v and a (the voicing centres on MIDI note 60 + 6v + 6a);
* voice leading: each chord takes the inversion and octave that move the
  voices least from the previous chord; a bass note (the root, an octave
  below) lasts the bar.

Every note is queued with its note-off, so nothing changes mid-note and a
stop leaves nothing hanging. Deterministic: no randomness.
Options: ``channel`` (1..16, default 2), ``key`` (tonic: C, F#, Bb, ... or
``auto``: the tonic of the key the audio is in, from Krumhansl-Kessler
profiles against the features' chroma averaged over about 8 s
(``midi/key.py``), C until there is one; default C).
"""

from __future__ import annotations

import math
from typing import Any

from ...errors import KellyError
from ..generator import Moment
from ..scheduler import EventScheduler

MODES = {
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
# (lower valence bound, mode), brightest first
_MODE_BOUNDS = ((0.5, "lydian"), (0.1, "major"), (-0.1, "dorian"), (-0.5, "minor"), (-math.inf, "phrygian"))
_HYSTERESIS = 0.05
PROGRESSIONS = {  # scale degrees (0 = tonic), one chord a bar
    "bright-active": (0, 4, 5, 3),
    "bright-calm": (0, 2, 3, 0),
    "dark-calm": (0, 3, 5, 4),
    "dark-active": (0, 1, 0, 6),
}
PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class HarmonyError(KellyError, ValueError):
    """A bad option; the message names it."""


def parse_key(text: str) -> int | None:
    """Pitch class of a tonic name (C, F#, Bb, ...); None for ``auto``; raises HarmonyError."""
    if text == "auto":
        return None
    if not text or text[0].upper() not in PITCH_CLASSES or text[1:] not in ("", "#", "b"):
        raise HarmonyError(f"key: expected a tonic such as C, F# or Bb, or auto; got {text!r}")
    return (PITCH_CLASSES[text[0].upper()] + {"": 0, "#": 1, "b": -1}[text[1:]]) % 12


def mode_for(valence: float, current: str | None = None) -> str:
    """The mode for ``valence``, keeping ``current`` while valence is within the hysteresis of its bounds."""
    for bound, name in _MODE_BOUNDS:
        if valence >= bound:
            candidate = name
            break
    if current is None or candidate == current:
        return candidate
    names = [n for _, n in _MODE_BOUNDS]
    i = names.index(current)
    upper = _MODE_BOUNDS[i - 1][0] if i > 0 else math.inf
    lower = _MODE_BOUNDS[i][0]
    if lower - _HYSTERESIS <= valence < upper + _HYSTERESIS:
        return current
    return candidate


def quadrant(valence: float, arousal: float) -> str:
    return f"{'bright' if valence >= 0 else 'dark'}-{'active' if arousal >= 0 else 'calm'}"


def chord_pitch_classes(tonic: int, mode: str, degree: int, seventh: bool) -> list[int]:
    """Pitch classes of the chord stacked in thirds on ``degree`` of the mode (root first)."""
    scale = MODES[mode]
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    return [(tonic + scale[(degree + s) % 7]) % 12 for s in steps]


def voice(pcs: list[int], centre: int, previous: list[int] | None) -> list[int]:
    """Close-position voicing of ``pcs`` near ``centre``, moving least from ``previous`` (sorted notes)."""
    best, best_cost = None, math.inf
    n = len(pcs)
    for inversion in range(n):
        order = pcs[inversion:] + pcs[:inversion]
        for base in range(centre - 12, centre + 1):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                notes.append(notes[-1] + (pc - notes[-1]) % 12 or 12)
            if previous and len(previous) == n:
                cost = sum(abs(a - b) for a, b in zip(notes, previous, strict=True))
            else:
                cost = abs(sum(notes) / n - centre)
            if cost < best_cost:
                best, best_cost = notes, cost
    return best


class Harmony:
    """The harmony generator (see the module docstring)."""

    name = "harmony"

    def __init__(self, options: dict[str, Any]):
        unknown = set(options) - {"channel", "key"}
        if unknown:
            raise HarmonyError(f"unknown option {sorted(unknown)[0]!r} (known: channel, key)")
        channel = options.get("channel", 2)
        if not isinstance(channel, int) or isinstance(channel, bool) or not 1 <= channel <= 16:
            raise HarmonyError(f"channel: expected 1..16, got {channel!r}")
        self.channel = channel - 1
        self.key = parse_key(str(options.get("key", "C")))
        self.reset()

    def reset(self) -> None:
        self._bar: int | None = None
        self._next: float | None = None
        self._mode: str | None = None
        self._voicing: list[int] | None = None
        self._index = 0

    def _new_bar(self, moment: Moment, bar: int, beat: float, out: EventScheduler) -> None:
        v, a = moment.valence, moment.arousal
        self._mode = mode_for(v, self._mode)
        tonic = self.key if self.key is not None else (moment.key if moment.key is not None else 0)
        progression = PROGRESSIONS[quadrant(v, a)]
        pcs = chord_pitch_classes(tonic, self._mode, progression[bar % len(progression)], a < -0.3)
        centre = int(round(60 + 6 * v + 6 * a))
        self._voicing = voice(pcs, centre, self._voicing)
        self._index = 0
        bar_frames = int(moment.beats_per_bar * moment.frames_per_beat * _legato(a))
        frame = moment.frame_at(beat)
        vel = _velocity(a, True)
        lowest = self._voicing[0]
        bass = lowest - (lowest - pcs[0]) % 12 - 12  # the root, an octave under the voicing
        out.note(frame, bar_frames, self.channel, bass, vel)
        if _per_beat(a) == 0:  # calm: a sustained chord instead of an arpeggio
            for n in self._voicing:
                out.note(frame, bar_frames, self.channel, n, max(vel - 10, 1))

    def generate(self, moment: Moment, out: EventScheduler) -> None:
        a = moment.arousal
        per_beat = _per_beat(a)
        step = 1.0 / per_beat if per_beat else moment.beats_per_bar
        beat = self._next if self._next is not None and self._next >= moment.beat else moment.beat
        beat = math.ceil(beat / step) * step  # on the grid of the current subdivision
        bpb = moment.beats_per_bar
        end = moment.end_beat
        while beat < end:
            bar = int(math.floor(beat / bpb + 1e-9))
            if bar != self._bar:
                self._bar = bar
                self._new_bar(moment, bar, max(beat, bar * bpb), out)
            if per_beat:
                notes = self._voicing
                note = notes[self._index % len(notes)] + (12 if a >= 0.66 and self._index % 8 >= 4 else 0)
                self._index += 1
                length = max(int(step * moment.frames_per_beat * _legato(a)), 1)
                downbeat = abs(beat - round(beat)) < 1e-9
                out.note(moment.frame_at(beat), length, self.channel, note, _velocity(a, downbeat))
            beat += step
        self._next = beat


def _per_beat(arousal: float) -> int:
    """Arpeggio notes a beat for ``arousal`` (0: a sustained chord instead)."""
    return sum(arousal >= step for step in (-0.6, -0.2, 0.2, 0.6))


def _legato(arousal: float) -> float:
    return 0.95 - 0.25 * (arousal + 1.0)


def _velocity(arousal: float, accent: bool) -> int:
    return max(1, min(127, int(round(70 + 30 * arousal)) + (8 if accent else 0)))
