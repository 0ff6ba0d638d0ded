"""The MIDI event ring: frame-stamped short messages from the generators to the audio thread.

A record is two int64 values: the *output frame* the event is due at (on
kelly's delayed time line, the frame count the audio thread keeps), and the
message packed as ``size | b0 << 8 | b1 << 16 | b2 << 24`` (1 to 3 bytes:
every channel message; sysex does not travel this way).

The producer (one control thread, ``kelly_jack.midi.scheduler``) pushes events
in non-decreasing frame order. The audio thread (``write_due``) writes every
event due before a given offset of the current period at its exact offset,
in order. An event whose frame has already passed is written at the earliest
offset still allowed (the period's start, or after the last event written)
and counted late; JACK refuses events out of time order, so an out-of-order
event is moved up to the last written offset, never dropped.

Pure nopython kernels over preallocated arrays; ``write_due`` runs on the
audio thread and only calls libjack's ``jack_midi_event_reserve``.
"""

from __future__ import annotations

import numba
import numpy as np

from . import ring

EVENT_WIDTH = 2
E_FRAME = 0
E_MESSAGE = 1

_jit = numba.njit(nogil=True, cache=True)


def new_events(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """(header, data) of an event ring holding ``capacity`` events (a power of two)."""
    hdr = ring.new_header(capacity)
    data = np.zeros((capacity, EVENT_WIDTH), dtype=np.int64)
    return hdr, data


@_jit
def pack(b0, b1, b2, size):
    """One to three message bytes as the record's int64 (size in the low byte)."""
    return np.int64(size) | (np.int64(b0) << 8) | (np.int64(b1) << 16) | (np.int64(b2) << 24)


@_jit
def message_size(packed):
    return packed & 0xFF


@_jit
def message_byte(packed, i):
    """Byte ``i`` (0..2) of a packed message."""
    return (packed >> (8 * (i + 1))) & 0xFF


@_jit
def push_event(hdr, data, frame, packed, record):
    """Producer side: append one event (``record`` is int64[EVENT_WIDTH] scratch); False when full."""
    record[E_FRAME] = frame
    record[E_MESSAGE] = packed
    return ring.record_push(hdr, data, record)


@_jit
def take_due(hdr, data, clock, upto, last):
    """Take the oldest event if it is due before offset ``upto`` of the period starting at ``clock``.

    Returns (offset, packed message, late): offset -1 when no event is due.
    The offset is never below ``last`` (the last offset written this period,
    0 at its start); an event whose frame is before ``clock`` is late.
    """
    row = ring.record_peek(hdr, data)
    if row < 0:
        return np.int64(-1), np.int64(0), False
    offset = data[row, E_FRAME] - clock
    if offset >= upto:
        return np.int64(-1), np.int64(0), False
    message = data[row, E_MESSAGE]
    ring.record_pop(hdr)
    return max(offset, last), message, offset < 0
