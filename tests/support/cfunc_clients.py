"""The tests' own JACK clients, GIL-free: a Numba cfunc process callback over preallocated arrays.

A Python process callback is unsafe under PipeWire's libjack: at deactivate it cancels the client's
data thread (pthread_cancel), and one cancelled while it waits for the GIL dies holding the GIL's mutex:
this process then hangs (``scripts/pipewire_gil_hang.py`` shows it). So every
test client that runs on the audio thread is a real JACK client (JACK-Client's ``jack.Client``) whose
process callback is the cfunc ``_process``, registered through the JACK C API on the client's pointer
as kelly does with its own (and ``tests/support/probe.py``). It reaches its state through one int64 array
(``st``, passed as ``void *arg``) holding counters, port pointers and the addresses of its buffers.
One cfunc serves every kind; a slot left 0 means that part is absent:

- ``Player``: plays a preallocated signal once on its audio output, then silence; writes queued MIDI
  messages on its MIDI output at offset 0 of the next period (a lock-free single-producer ring);
- ``MidiRecorder``: copies every MIDI event it receives, stamped with JACK's frame time, into a
  preallocated table the test reads afterwards (published count: data, release fence, count);
- ``AudioSink``: keeps the loudest sample it received;
- ``CfuncClient``: counts its cycles (the base of the others).

``TimebaseMaster`` is a timebase master whose BBT callback is a cfunc too (it runs on the audio thread).
Frames are JACK frame times (``jack_last_frame_time`` read in the callback), so a recorder's and a
player's stamps compare with each other and with kelly's. A client and its arrays stay alive until ``close``.
"""

from __future__ import annotations

import jack
import numba
import numpy as np
from numba import types

from kelly_jack.jack.libjack import (
    jack_last_frame_time,
    jack_midi_clear_buffer,
    jack_midi_event_get,
    jack_midi_event_reserve,
    jack_midi_get_event_count,
    jack_port_get_buffer,
)
from kelly_jack.rt.atomics import address_as_voidptr, fence_acquire, fence_release, view_u8, voidptr_as_address

# slots of the state array
SIZE = 32
(CLIENT, CYCLES, AUDIO_OUT, MIDI_OUT, MIDI_IN, AUDIO_IN, PLAYING, POS, STARTED_AT, SIGNAL, SIGNAL_LEN,
 Q_DATA, Q_LEN, Q_WRITE, Q_READ, R_FRAMES, R_SIZES, R_DATA, R_COUNT, R_LOST, PEAK, EVENT) = range(22)  # fmt: skip
# EVENT..EVENT+2: a jack_midi_event_t (time, size, buffer) for jack_midi_event_get

Q_SLOTS, Q_BYTES = 64, 512  # MIDI messages queued to send (one long SysEx fits)
R_CAPACITY, R_BYTES = 1 << 16, 32  # MIDI events a recorder keeps, and their longest


@numba.njit(nogil=True, cache=True)
def _play(st, nframes, now):
    out = numba.carray(jack_port_get_buffer(address_as_voidptr(st[AUDIO_OUT]), nframes), (nframes,), np.float32)
    out[:] = 0.0
    if st[PLAYING] == 0:
        return
    if st[STARTED_AT] < 0:
        st[STARTED_AT] = now
    signal = numba.carray(address_as_voidptr(st[SIGNAL]), (st[SIGNAL_LEN],), np.float32)
    pos = st[POS]
    n = min(nframes, st[SIGNAL_LEN] - pos)
    for i in range(n):
        out[i] = signal[pos + i]
    st[POS] = pos + n


@numba.njit(nogil=True, cache=True)
def _send(st, nframes):
    buf = jack_port_get_buffer(address_as_voidptr(st[MIDI_OUT]), nframes)
    jack_midi_clear_buffer(buf)
    write = st[Q_WRITE]
    fence_acquire()  # the messages before the position that published them
    lengths = numba.carray(address_as_voidptr(st[Q_LEN]), (Q_SLOTS,), np.int64)
    data = numba.carray(address_as_voidptr(st[Q_DATA]), (Q_SLOTS, Q_BYTES), np.uint8)
    for r in range(st[Q_READ], write):
        slot = r % Q_SLOTS
        n = lengths[slot]
        dest = jack_midi_event_reserve(buf, 0, n)
        if voidptr_as_address(dest) != 0:  # no room in this period's buffer: lost, as a full port would
            for i in range(n):
                dest[i] = data[slot, i]
    fence_release()  # done with the slots before the producer may reuse them
    st[Q_READ] = write


@numba.njit(nogil=True, cache=True)
def _record(st, nframes, now, event):
    buf = jack_port_get_buffer(address_as_voidptr(st[MIDI_IN]), nframes)
    frames = numba.carray(address_as_voidptr(st[R_FRAMES]), (R_CAPACITY,), np.int64)
    sizes = numba.carray(address_as_voidptr(st[R_SIZES]), (R_CAPACITY,), np.int64)
    data = numba.carray(address_as_voidptr(st[R_DATA]), (R_CAPACITY, R_BYTES), np.uint8)
    count = st[R_COUNT]
    for j in range(jack_midi_get_event_count(buf)):
        size = st[EVENT + 1] if jack_midi_event_get(event, buf, j) == 0 else R_BYTES + 1
        if count >= R_CAPACITY or size > R_BYTES:  # the table full, an event too long, or unreadable
            st[R_LOST] += 1
            continue
        msg = view_u8(st[EVENT + 2], size)
        for i in range(size):
            data[count, i] = msg[i]
        sizes[count] = size
        frames[count] = now + (st[EVENT] & 0xFFFFFFFF)
        count += 1
    fence_release()  # the events before the count that publishes them
    st[R_COUNT] = count


@numba.njit(nogil=True, cache=True)
def _peak(st, nframes):
    x = numba.carray(jack_port_get_buffer(address_as_voidptr(st[AUDIO_IN]), nframes), (nframes,), np.float32)
    peak = numba.carray(address_as_voidptr(st[PEAK]), (1,), np.float64)
    for i in range(nframes):
        if abs(x[i]) > peak[0]:
            peak[0] = abs(x[i])


@numba.cfunc(types.int32(types.uint32, types.voidptr), nopython=True, cache=True)
def _process(nframes, arg):
    st = numba.carray(arg, (SIZE,), np.int64)
    now = np.int64(jack_last_frame_time(address_as_voidptr(st[CLIENT])))
    if st[AUDIO_OUT] != 0:
        _play(st, nframes, now)
    if st[MIDI_OUT] != 0:
        _send(st, nframes)
    if st[MIDI_IN] != 0:
        _record(st, nframes, now, address_as_voidptr(voidptr_as_address(arg) + EVENT * 8))
    if st[AUDIO_IN] != 0:
        _peak(st, nframes)
    st[CYCLES] += 1
    return 0


@numba.njit(nogil=True, cache=True)
def _load_acquire(st, slot):
    value = st[slot]
    fence_acquire()
    return value


@numba.njit(nogil=True, cache=True)
def _store_release(st, slot, value):
    fence_release()
    st[slot] = value


def _address(pointer) -> int:
    return int(jack._ffi.cast("uintptr_t", pointer))


class CfuncClient:
    """A real JACK client on ``server`` (a tests.jackd server) with the cfunc process callback.

    Subclasses register their ports and fill their slots in ``_setup`` before it is activated. Until
    ``close``, the object (and so the arrays the callback writes) is kept alive in ``OPEN``.
    """

    OPEN: set[CfuncClient] = set()

    def __init__(self, server, name: str):
        self.client = server.client(name)
        self.st = np.zeros(SIZE, dtype=np.int64)
        self.st[CLIENT] = _address(self.client._ptr)
        self.st[STARTED_AT] = -1
        self._buffers: list[np.ndarray] = []  # referenced for as long as the callback may touch them
        self._setup()
        lib, ffi = jack._lib, jack._ffi
        arg = ffi.cast("void *", self.st.ctypes.data)
        rc = lib.jack_set_process_callback(self.client._ptr, ffi.cast("JackProcessCallback", _process.address), arg)
        assert rc == 0, f"jack_set_process_callback: {rc}"
        CfuncClient.OPEN.add(self)
        self.client.activate()

    def _setup(self) -> None:
        pass

    def _buffer(self, slot: int, array: np.ndarray) -> np.ndarray:
        self._buffers.append(array)
        self.st[slot] = array.ctypes.data
        return array

    @property
    def cycles(self) -> int:
        """Process cycles this client has run."""
        return int(self.st[CYCLES])

    def close(self) -> None:
        """Deactivate and close (no Python runs on the audio thread, so nothing can deadlock here)."""
        self.client.deactivate()
        self.client.close()
        CfuncClient.OPEN.discard(self)


class MidiRecorder(CfuncClient):
    """A real JACK client with one MIDI input ``in`` that records (JACK frame time, bytes) of every event."""

    def __init__(self, server, name: str = "recorder"):
        self._events: list[tuple[int, bytes]] = []  # every event decoded so far
        self._start = 0  # the first one ``events`` shows (``clear``)
        super().__init__(server, name)

    def _setup(self) -> None:
        self.port = self.client.midi_inports.register("in")
        self.st[MIDI_IN] = _address(self.port._ptr)
        self._frames = self._buffer(R_FRAMES, np.zeros(R_CAPACITY, dtype=np.int64))
        self._sizes = self._buffer(R_SIZES, np.zeros(R_CAPACITY, dtype=np.int64))
        self._data = self._buffer(R_DATA, np.zeros((R_CAPACITY, R_BYTES), dtype=np.uint8))

    @property
    def events(self) -> list[tuple[int, bytes]]:
        """The events received so far (since ``clear``), in order: a new list each time. Raises
        AssertionError once an event was lost (the table full, or one longer than it keeps): a test must
        not judge an incomplete record."""
        count = _load_acquire(self.st, R_COUNT)
        if self.st[R_LOST]:
            raise AssertionError(f"recorder {self.client.name}: {self.st[R_LOST]} MIDI events lost")
        for i in range(len(self._events), count):
            self._events.append((int(self._frames[i]), bytes(self._data[i, : self._sizes[i]])))
        return self._events[self._start :]

    def clear(self) -> None:
        """Forget the events received so far (``events`` starts again from the next one)."""
        self._start += len(self.events)

    def cc(self, number: int) -> list[tuple[int, int]]:
        """(frame, value) of every control change ``number`` received."""
        return [(t, d[2]) for t, d in self.events if len(d) == 3 and d[0] & 0xF0 == 0xB0 and d[1] == number]


class Player(CfuncClient):
    """A real JACK client with one audio output ``out`` that plays ``signal_`` once (after ``play``), then
    silence; with ``midi``, a MIDI output ``midi`` too. ``started_at`` is the JACK frame time of the
    signal's first sample (None before), ``pos`` how many of its samples have been played."""

    def __init__(self, server, signal_, name: str = "player", midi: bool = False):
        self.signal = np.ascontiguousarray(signal_, dtype=np.float32)
        self._midi = midi
        super().__init__(server, name)

    def _setup(self) -> None:
        self.port = self.client.outports.register("out")
        self.st[AUDIO_OUT] = _address(self.port._ptr)
        self._buffer(SIGNAL, self.signal)
        self.st[SIGNAL_LEN] = len(self.signal)
        self.midi_port = None
        if self._midi:
            self.midi_port = self.client.midi_outports.register("midi")
            self.st[MIDI_OUT] = _address(self.midi_port._ptr)
            self._queue = self._buffer(Q_DATA, np.zeros((Q_SLOTS, Q_BYTES), dtype=np.uint8))
            self._lengths = self._buffer(Q_LEN, np.zeros(Q_SLOTS, dtype=np.int64))

    def play(self) -> None:
        self.st[PLAYING] = 1

    @property
    def pos(self) -> int:
        return int(self.st[POS])

    @property
    def started_at(self) -> int | None:
        t = int(self.st[STARTED_AT])
        return None if t < 0 else t

    def send_midi(self, data: bytes) -> None:
        """Queue one MIDI message; it goes out at offset 0 of a coming period (with any others queued)."""
        assert self.midi_port is not None and 0 < len(data) <= Q_BYTES
        write = int(self.st[Q_WRITE])
        assert write - _load_acquire(self.st, Q_READ) < Q_SLOTS, "the MIDI send queue is full"
        slot = write % Q_SLOTS
        self._queue[slot, : len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._lengths[slot] = len(data)
        _store_release(self.st, Q_WRITE, write + 1)

    @property
    def midi_pending(self) -> int:
        """Messages queued that no period has taken yet."""
        return int(self.st[Q_WRITE] - _load_acquire(self.st, Q_READ))


class AudioSink(CfuncClient):
    """A real JACK client with one audio input ``in`` that keeps the loudest sample it received."""

    def _setup(self) -> None:
        self.port = self.client.inports.register("in")
        self.st[AUDIO_IN] = _address(self.port._ptr)
        self._peak = self._buffer(PEAK, np.zeros(1, dtype=np.float64))

    @property
    def peak(self) -> float:
        return float(self._peak[0])


# ----------------------------------------------------------------- timebase master

# slots of a timebase master's int64 array: the byte offsets of jack_position_t's fields it writes
(TB_BPM_X1000, TB_BEATS_PER_BAR, TB_FRAME, TB_RATE, TB_VALID, TB_BAR, TB_BEAT, TB_TICK, TB_BAR_START_TICK,
 TB_BEATS_PER_BAR_F, TB_BEAT_TYPE, TB_TICKS_PER_BEAT, TB_BPM, TB_SIZE) = range(14)  # fmt: skip
TICKS_PER_BEAT = 1920


POSITION_BBT = int(jack.POSITION_BBT)


@numba.njit(nogil=True, cache=True, inline="always")
def _field(pos, offset):
    return address_as_voidptr(voidptr_as_address(pos) + offset)


@numba.cfunc(
    types.void(types.int32, types.uint32, types.voidptr, types.int32, types.voidptr), nopython=True, cache=True
)
def _timebase(state, nframes, pos, new_pos, arg):
    tb = numba.carray(arg, (TB_SIZE,), np.int64)
    bpm = tb[TB_BPM_X1000] / 1000.0
    per_bar = tb[TB_BEATS_PER_BAR]
    frame = numba.carray(_field(pos, tb[TB_FRAME]), (1,), np.uint32)[0]
    rate = numba.carray(_field(pos, tb[TB_RATE]), (1,), np.uint32)[0]
    beats = frame / rate * bpm / 60.0
    numba.carray(_field(pos, tb[TB_VALID]), (1,), np.int32)[0] = POSITION_BBT
    numba.carray(_field(pos, tb[TB_BAR]), (1,), np.int32)[0] = int(beats // per_bar) + 1
    numba.carray(_field(pos, tb[TB_BEAT]), (1,), np.int32)[0] = int(beats % per_bar) + 1
    numba.carray(_field(pos, tb[TB_TICK]), (1,), np.int32)[0] = int((beats % 1.0) * TICKS_PER_BEAT)
    numba.carray(_field(pos, tb[TB_BAR_START_TICK]), (1,), np.float64)[0] = 0.0
    numba.carray(_field(pos, tb[TB_BEATS_PER_BAR_F]), (1,), np.float32)[0] = per_bar
    numba.carray(_field(pos, tb[TB_BEAT_TYPE]), (1,), np.float32)[0] = 4.0
    numba.carray(_field(pos, tb[TB_TICKS_PER_BEAT]), (1,), np.float64)[0] = TICKS_PER_BEAT
    numba.carray(_field(pos, tb[TB_BPM]), (1,), np.float64)[0] = bpm


class TimebaseMaster:
    """A real JACK client that is timebase master: BBT at ``bpm`` (to 0.001) in ``beats_per_bar``, from the frame."""

    FIELDS = {TB_FRAME: "frame", TB_RATE: "frame_rate", TB_VALID: "valid", TB_BAR: "bar", TB_BEAT: "beat",
              TB_TICK: "tick", TB_BAR_START_TICK: "bar_start_tick", TB_BEATS_PER_BAR_F: "beats_per_bar",
              TB_BEAT_TYPE: "beat_type", TB_TICKS_PER_BEAT: "ticks_per_beat", TB_BPM: "beats_per_minute"}  # fmt: skip

    def __init__(self, server, name: str, bpm: float, beats_per_bar: int):
        self.client = server.client(name)
        CfuncClient.OPEN.add(self)  # kept alive until close, as the others
        ffi = jack._ffi
        self.tb = np.zeros(TB_SIZE, dtype=np.int64)
        self.tb[TB_BPM_X1000] = round(bpm * 1000)
        self.tb[TB_BEATS_PER_BAR] = beats_per_bar
        for slot, field in self.FIELDS.items():
            self.tb[slot] = ffi.offsetof("jack_position_t", field)
        arg = ffi.cast("void *", self.tb.ctypes.data)
        callback = ffi.cast("JackTimebaseCallback", _timebase.address)
        rc = jack._lib.jack_set_timebase_callback(self.client._ptr, 0, callback, arg)
        assert rc == 0, f"jack_set_timebase_callback: {rc}"
        self.client.activate()

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
        CfuncClient.OPEN.discard(self)
