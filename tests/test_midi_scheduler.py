"""The MIDI event ring and its producer, the scheduler: order, horizon, late events, no hanging notes."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.midi.scheduler import EventScheduler
from kelly_jack.rt import midi_events, ring


def make(capacity: int = 64) -> tuple[EventScheduler, np.ndarray, np.ndarray]:
    hdr, data = midi_events.new_events(capacity)
    return EventScheduler(hdr, data), hdr, data


def drain(hdr, data, clock: int, nframes: int) -> list[tuple[int, bytes, bool]]:
    """What the audio thread would write in the period starting at ``clock`` (take_due in a loop)."""
    out, last = [], 0
    while True:
        offset, packed, late = midi_events.take_due(hdr, data, clock, nframes, last)
        if offset < 0:
            return out
        size = midi_events.message_size(packed)
        out.append((int(offset), bytes(midi_events.message_byte(packed, i) for i in range(size)), bool(late)))
        last = offset


def test_pack_round_trips_one_to_three_bytes():
    for msg in ([0xF8], [0xC1, 5], [0x93, 60, 127]):
        b = (*msg, 0, 0)
        packed = midi_events.pack(b[0], b[1], b[2], len(msg))
        assert midi_events.message_size(packed) == len(msg)
        assert [midi_events.message_byte(packed, i) for i in range(len(msg))] == msg


def test_events_come_out_in_time_order_whatever_order_they_were_queued():
    s, hdr, data = make()
    s.push(300, (0x90, 62, 100))
    s.push(100, (0x90, 60, 100))
    s.push(200, (0x90, 61, 100))
    assert s.release(1000) == 3
    assert [o for o, _, _ in drain(hdr, data, 0, 1000)] == [100, 200, 300]


def test_release_stops_at_the_horizon_and_the_audio_side_at_the_period_end():
    s, hdr, data = make()
    s.note(100, 500, 0, 60, 90)  # on at 100, off at 600
    s.release(400)
    assert s.pending == 1 and s.in_ring == 1
    assert drain(hdr, data, 0, 128) == [(100, bytes([0x90, 60, 90]), False)]
    s.release(1000)
    assert drain(hdr, data, 128, 128) == []  # 600 is not in 128..255
    assert drain(hdr, data, 512, 128) == [(88, bytes([0x80, 60, 0]), False)]


def test_late_events_go_out_at_the_period_start_and_are_flagged():
    s, hdr, data = make()
    s.push(10, (0xB0, 7, 1))
    s.push(700, (0xB0, 7, 2))
    s.release(10_000)
    got = drain(hdr, data, 640, 128)
    assert got == [(0, bytes([0xB0, 7, 1]), True), (60, bytes([0xB0, 7, 2]), False)]


def test_an_event_queued_before_released_ones_is_moved_up_not_lost():
    s, hdr, data = make()
    s.push(500, (0x90, 60, 1))
    s.release(1000)
    s.push(300, (0x90, 61, 1))  # a generator that fell behind
    s.release(1000)
    assert s.reordered == 1
    assert [o for o, _, _ in drain(hdr, data, 0, 1000)] == [500, 500]


def test_a_full_ring_holds_events_back_in_order():
    s, hdr, data = make(4)
    for i in range(6):
        s.push(i, (0x90, 60 + i, 1))
    assert s.release(100) == 4
    assert s.held_back == 1 and s.pending == 2
    assert [m[1] for _, m, _ in drain(hdr, data, 0, 100)] == [60, 61, 62, 63]
    assert s.release(100) == 2
    assert [m[1] for _, m, _ in drain(hdr, data, 0, 100)] == [64, 65]


def test_all_notes_off_ends_each_sounding_note_once_and_drops_later_events():
    s, hdr, data = make()
    s.note(0, 1000, 1, 60, 100)  # sounding at 500
    s.note(100, 100, 1, 64, 100)  # over by 500
    s.note(800, 100, 2, 67, 100)  # not started by 500: dropped
    assert s.sounding() == []  # each queued note has its note-off queued
    s.release(500)
    assert s.all_notes_off(500) == 1
    s.release(1 << 40)
    got = drain(hdr, data, 0, 100_000)
    offs = [(o, m) for o, m, _ in got if m[0] & 0xF0 == 0x80]
    assert (500, bytes([0x81, 60, 0])) in offs and len(offs) == 2  # 64 ended at 200, 60 at 500
    assert not any(m[1] == 67 for _, m, _ in got)
    assert (500, bytes([0xB1, 123, 0])) in [(o, m) for o, m, _ in got]  # CC 123 on each channel that played
    assert s.sounding() == []


def test_bad_messages_are_refused():
    s, _, _ = make()
    with pytest.raises(ValueError, match="1 to 3 bytes"):
        s.push(0, b"")
    with pytest.raises(ValueError, match="at least one frame"):
        s.note(0, 0, 0, 60, 1)


def test_the_ring_is_the_shared_state_ring():
    from kelly_jack.engine.state import SharedState

    st = SharedState(1)
    s = EventScheduler(st.event_hdr, st.events)
    s.push(5, (0x90, 1, 1))
    s.release(10)
    assert ring.consumer_available(st.event_hdr) == 1
