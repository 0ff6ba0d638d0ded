"""The producer side of the MIDI event ring: time-ordering, release horizon, no hanging notes.

Generators hand their events to an ``EventScheduler`` with output-frame
stamps, in any order and possibly far ahead (a note-off two bars later). The
scheduler keeps them in a heap and moves into the event ring only those
before a *horizon*: the output frame up to which every generator has spoken
(the start of the next inference hop on the output time line). Since no
later call can produce an event before the horizon, what enters the ring is
in time order, which is what the audio thread and JACK need. An event pushed
before an already released frame (a generator that fell behind) is moved up
to that frame and counted as ``reordered``.

It tracks which notes sound, so ``all_notes_off`` (shutdown, transport stop,
generator change) can end each of them exactly once, and drops the
not-yet-released events after that frame.

Thread-safe (one lock; only control threads use it, never the audio thread).
The ring has one producer: whichever thread holds the lock.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter

import numpy as np

from ..rt import midi_events, ring

NOTE_OFF, NOTE_ON, CONTROL_CHANGE = 0x80, 0x90, 0xB0
ALL_NOTES_OFF_CC = 123


class EventScheduler:
    """Orders frame-stamped MIDI messages into the event ring (``hdr``, ``data`` from ``midi_events.new_events``)."""

    def __init__(self, hdr: np.ndarray, data: np.ndarray):
        self._hdr, self._data = hdr, data
        self._record = np.zeros(midi_events.EVENT_WIDTH, dtype=np.int64)
        self._heap: list[tuple[int, int, int]] = []  # (frame, sequence, packed message)
        self._sequence = 0
        self._released_to = -(1 << 62)  # frame of the last event put into the ring
        self._sounding: Counter[tuple[int, int]] = Counter()  # (channel, note) -> note-ons minus note-offs
        self._channels: set[int] = set()  # channels that ever had a note
        self._lock = threading.Lock()
        self.reordered = 0  # events moved up to keep time order
        self.held_back = 0  # times the ring was full (events kept for the next release)

    # --------------------------------------------------------------- events

    def push(self, frame: int, message: bytes | tuple[int, ...]) -> None:
        """Queue a 1-3 byte channel message at output ``frame``; raises ValueError for other sizes."""
        if not 1 <= len(message) <= 3:
            raise ValueError(f"a scheduled MIDI message has 1 to 3 bytes, got {len(message)}")
        b = (*message, 0, 0)
        packed = int(midi_events.pack(b[0], b[1], b[2], len(message)))
        with self._lock:
            self._track(b[0], b[1], b[2], +1)
            heapq.heappush(self._heap, (int(frame), self._sequence, packed))
            self._sequence += 1

    def note(self, frame: int, length: int, channel: int, note: int, velocity: int) -> None:
        """A note-on at ``frame`` and its note-off ``length`` frames later (channel 0..15)."""
        if length < 1:
            raise ValueError(f"a note lasts at least one frame, got {length}")
        self.push(frame, (NOTE_ON | channel, note, velocity))
        self.push(frame + length, (NOTE_OFF | channel, note, 0))

    def control_change(self, frame: int, channel: int, number: int, value: int) -> None:
        self.push(frame, (CONTROL_CHANGE | channel, number, value))

    # -------------------------------------------------------------- release

    def release(self, horizon: int) -> int:
        """Move every queued event before output frame ``horizon`` into the ring; return how many."""
        moved = 0
        with self._lock:
            while self._heap and self._heap[0][0] < horizon:
                frame, _, packed = self._heap[0]
                if frame < self._released_to:
                    frame = self._released_to
                    self.reordered += 1
                if not midi_events.push_event(self._hdr, self._data, frame, packed, self._record):
                    self.held_back += 1
                    break  # full: the rest waits for the next release, still in order
                heapq.heappop(self._heap)
                self._released_to = frame
                moved += 1
        return moved

    def all_notes_off(self, frame: int) -> int:
        """End every sounding note at ``frame`` (after dropping queued events from ``frame`` on).

        Each sounding note gets its note-off, then every channel that played
        gets CC 123 (all notes off) as well, for receivers that missed one.
        Returns the number of note-offs queued; call ``release`` to send them.
        """
        with self._lock:
            keep = []
            for item in self._heap:
                if item[0] >= frame:
                    b = [int(midi_events.message_byte(item[2], i)) for i in range(3)]
                    self._track(b[0], b[1], b[2], -1)
                else:
                    keep.append(item)
            heapq.heapify(keep)
            self._heap = keep
            ending = sorted(k for k, n in self._sounding.items() if n > 0)
        for channel, note in ending:
            self.push(frame, (NOTE_OFF | channel, note, 0))
        for channel in sorted(self._channels):
            self.control_change(frame, channel, ALL_NOTES_OFF_CC, 0)
        return len(ending)

    @property
    def pending(self) -> int:
        """Events queued and not yet in the ring."""
        return len(self._heap)

    @property
    def in_ring(self) -> int:
        """Events in the ring the audio thread has not taken yet."""
        return int(ring.consumer_available(self._hdr))

    def sounding(self) -> list[tuple[int, int]]:
        """(channel, note) of every note on, counting queued events as done."""
        with self._lock:
            return sorted(k for k, n in self._sounding.items() if n > 0)

    def _track(self, status: int, data1: int, data2: int, sign: int) -> None:
        """Count note-ons minus note-offs per (channel, note); ``sign`` -1 undoes a dropped event."""
        kind, channel = status & 0xF0, status & 0x0F
        if kind == NOTE_ON and data2 > 0:
            self._sounding[(channel, data1)] += sign
            self._channels.add(channel)
        elif kind == NOTE_OFF or kind == NOTE_ON:
            self._sounding[(channel, data1)] -= sign
