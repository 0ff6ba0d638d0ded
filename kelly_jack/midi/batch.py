"""What a generator writes into: a checked batch of events, handed to the scheduler only if the call succeeds.

A generator runs on a plugin worker (``inference/guard.py``) and may raise,
hang or produce garbage. It gets an ``EventBatch`` with the scheduler's
writing methods (``push``, ``note``, ``control_change``); each event is
checked as it comes (MIDI channel-message bytes, integer frames within reach
of the moment) and a bad one raises ``ValueError`` in the generator, so the
whole call counts as failed. The runner moves the batch into the scheduler
only after the call returned in time, so a call that was abandoned, or that
failed half-way, leaves nothing behind.
"""

from __future__ import annotations

import math
import numbers

from .scheduler import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, EventScheduler

MAX_EVENTS = 4096  # per call: a generator speaks for one hop
MAX_AHEAD_S = 600.0  # the latest an event may lie after the moment's end (a long drone's note-off)


class EventBatch:
    """Events of one ``generate`` call for the output frames ``[start, end)`` at ``rate`` Hz."""

    def __init__(self, start: int, end: int, rate: int):
        self.earliest = start - (end - start)  # a rounding generator may land a little early: sent late
        self.latest = end + int(MAX_AHEAD_S * rate)
        self.events: list[tuple[int, tuple[int, ...]]] = []

    def push(self, frame: int, message: bytes | tuple[int, ...]) -> None:
        """Queue a 1-3 byte channel message (status 0x80-0xEF) at output ``frame``; raises ValueError."""
        frame = self._frame(frame)
        message = tuple(message)
        if not 1 <= len(message) <= 3:
            raise ValueError(f"a scheduled MIDI message has 1 to 3 bytes, got {len(message)}")
        if not all(isinstance(b, numbers.Integral) for b in message):
            raise ValueError(f"MIDI bytes must be integers, got {message!r}")
        if not 0x80 <= message[0] <= 0xEF:
            raise ValueError(f"a generator sends channel messages (status 0x80-0xEF), got {message[0]!r}")
        if not all(0 <= b <= 127 for b in message[1:]):
            raise ValueError(f"MIDI data bytes are 0..127, got {message!r}")
        if len(self.events) >= MAX_EVENTS:
            raise ValueError(f"more than {MAX_EVENTS} events in one hop")
        self.events.append((frame, tuple(int(b) for b in message)))

    def note(self, frame: int, length: int, channel: int, note: int, velocity: int) -> None:
        """A note-on at ``frame`` and its note-off ``length`` frames later (channel 0..15)."""
        if not isinstance(length, numbers.Integral) or length < 1:
            raise ValueError(f"a note lasts a whole number of frames, at least one; got {length!r}")
        self._channel(channel)
        self.push(frame, (NOTE_ON | channel, note, velocity))
        self.push(frame + length, (NOTE_OFF | channel, note, 0))

    def control_change(self, frame: int, channel: int, number: int, value: int) -> None:
        self._channel(channel)
        self.push(frame, (CONTROL_CHANGE | channel, number, value))

    def move_into(self, scheduler: EventScheduler) -> int:
        """Queue every event in ``scheduler``; return how many."""
        for frame, message in self.events:
            scheduler.push(frame, message)
        return len(self.events)

    def _frame(self, frame) -> int:
        if not isinstance(frame, numbers.Integral):
            if not isinstance(frame, numbers.Real) or not math.isfinite(frame) or frame != int(frame):
                raise ValueError(f"an event's frame is a whole number, got {frame!r}")
        frame = int(frame)
        if not self.earliest <= frame <= self.latest:
            raise ValueError(f"frame {frame} is outside this hop's reach [{self.earliest}, {self.latest}]")
        return frame

    @staticmethod
    def _channel(channel) -> None:
        if not isinstance(channel, numbers.Integral) or not 0 <= channel <= 15:
            raise ValueError(f"a MIDI channel is 0..15, got {channel!r}")
