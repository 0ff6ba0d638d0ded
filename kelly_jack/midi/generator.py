"""The generator contract: what a MIDI generator gets each hop and what it must do.

A generator is an object with

* ``name`` (str) and ``channel`` (0..15, the MIDI channel it plays on);
* ``generate(moment: Moment, out: EventScheduler) -> None``: queue the events
  of the output frames ``[moment.start, moment.end)`` with ``out.note(...)``,
  ``out.control_change(...)`` or ``out.push(...)``. A note's note-off may lie
  beyond ``moment.end`` (queue it with the note; the scheduler sends it on
  time). Events before ``moment.start`` arrive late: do not queue them.
* ``reset() -> None``: forget musical state (after a transport stop or a
  generator change); the scheduler ends the notes that were sounding.

It runs on a control thread (a plugin worker of the inference thread, after
each inference result), never on the audio thread, so it may be plain Python;
it must return well within one hop. ``out`` is really a checked
``batch.EventBatch`` with those three methods: a bad event (not a channel
message, a data byte over 127, a fractional frame, a frame out of reach)
raises ``ValueError`` there. An exception fails the call, whose events are
then thrown away; failures are counted and reported at a bounded rate, and
the other generators go on. A call still running after ``plugins.timeout_ms``,
or ``plugins.max_failures`` failed calls in a row, drops the generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from .scheduler import EventScheduler


@dataclass(frozen=True)
class Moment:
    """One hop of the output time line, as a generator sees it.

    Frames are kelly's output frames (the delayed time line the audio thread
    keeps: frame 0 is the first frame after activation). ``beat`` is the
    musical position at ``start`` in beats (quarter notes when the meter is
    x/4) from the clock's origin. Generators play the grid points in
    ``[beat, end_beat)``: consecutive moments tile the time line exactly, so
    nothing is played twice or skipped.
    """

    start: int
    end: int
    rate: int
    valence: float  # -1..1, blended with the user's and smoothed
    arousal: float  # -1..1
    dominance: float | None
    bpm: float
    beat: float  # position at ``start``
    end_beat: float  # position at ``end``: exactly the next moment's ``beat``, so [beat, end_beat) tile
    beats_per_bar: float
    rolling: bool  # False while the JACK transport is stopped: play nothing
    key: int | None = None  # tonic pitch class 0..11 detected from the audio, if any

    @property
    def frames_per_beat(self) -> float:
        return self.rate * 60.0 / self.bpm

    def beat_at(self, frame: int) -> float:
        """Musical position (beats) at output ``frame`` (linear over this moment)."""
        return self.beat + (frame - self.start) / self.frames_per_beat

    def frame_at(self, beat: float) -> int:
        """The output frame of musical position ``beat`` (rounded to the nearest frame)."""
        return self.start + int(math.floor((beat - self.beat) * self.frames_per_beat + 0.5))


class Generator(Protocol):
    name: str
    channel: int

    def generate(self, moment: Moment, out: EventScheduler) -> None: ...

    def reset(self) -> None: ...
