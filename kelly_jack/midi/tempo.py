"""Where the beat is: an internal clock from the config, or JACK transport through a callback.

``InternalClock`` counts beats along kelly's output time line at the
configured tempo, optionally nudged by arousal (``bpm * (1 + nudge *
arousal)``), integrating tempo changes so the position never jumps. A
transport source (``kelly_jack.jack.transport``) implements the same
``position`` method from JACK's BBT when the transport rolls and a timebase
master exists, and falls back to an internal clock otherwise. Control thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Position:
    bpm: float
    beat: float  # beats from the origin at the asked frame
    beats_per_bar: float
    rolling: bool


class TempoSource(Protocol):
    def position(self, frame: int, rate: int, arousal: float) -> Position: ...


class InternalClock:
    """A steady clock: ``bpm`` (20..400), ``beats_per_bar``, ``nudge`` (0..1, share of bpm arousal may add)."""

    def __init__(self, bpm: float = 120.0, beats_per_bar: float = 4.0, nudge: float = 0.0):
        self.bpm, self.beats_per_bar, self.nudge = bpm, beats_per_bar, nudge
        self._frame: int | None = None
        self._beat = 0.0
        self._bpm = bpm

    def position(self, frame: int, rate: int, arousal: float = 0.0) -> Position:
        """Position at output ``frame`` (frames asked in increasing order; the first one is beat 0)."""
        if self._frame is None:
            self._frame = frame
        # advance at the tempo in force since the last call, then take the new one
        self._beat += (frame - self._frame) * self._bpm / (60.0 * rate)
        self._frame = frame
        self._bpm = self.bpm * (1.0 + self.nudge * max(-1.0, min(1.0, arousal)))
        return Position(self._bpm, self._beat, self.beats_per_bar, True)
