"""A GIL-free measuring client for the latency tests (a Numba cfunc, like kelly's own callback).

Frames are counted by the client itself (frames processed since activation),
not read from JACK's frame time, which a callback running late reads a period
ahead. Ports: ``out`` plays one full-scale sample at a chosen count; ``in`` and
``direct`` record the counts of samples above 0.5; ``midi`` records every MIDI
event with its count. A cfunc xrun callback counts the server's xruns, so a
test can tell a clean measurement from a disturbed one.
"""

from __future__ import annotations

import jack
import numba
import numpy as np
from numba import types

from kelly_jack.jack.libjack import jack_midi_event_get, jack_midi_get_event_count, jack_port_get_buffer
from kelly_jack.rt.atomics import address_as_voidptr, view_u8, voidptr_as_address

SIZE = 4096
OUT, IN, DIRECT, MIDI, TARGET, COUNT, XRUNS, N_IN, N_DIRECT, N_MIDI, EVENT = range(11)  # EVENT: 10..12
HITS_IN, HITS_DIRECT, MIDI_EVENTS, MAX_HITS, MAX_EVENTS = 16, 272, 528, 256, 512


@numba.njit(nogil=True)
def _hits(st, port, nframes, base, count_slot, first):
    x = numba.carray(jack_port_get_buffer(address_as_voidptr(st[port]), nframes), (nframes,), np.float32)
    for i in range(nframes):
        if abs(x[i]) > 0.5 and st[count_slot] < MAX_HITS:
            st[first + st[count_slot]] = base + i
            st[count_slot] += 1


@numba.cfunc(types.int32(types.uint32, types.voidptr), nopython=True)
def _process(nframes, arg):
    st = numba.carray(arg, (SIZE,), np.int64)
    base = st[COUNT]
    out = numba.carray(jack_port_get_buffer(address_as_voidptr(st[OUT]), nframes), (nframes,), np.float32)
    for i in range(nframes):
        out[i] = 1.0 if base + i == st[TARGET] else 0.0
    _hits(st, IN, nframes, base, N_IN, HITS_IN)
    _hits(st, DIRECT, nframes, base, N_DIRECT, HITS_DIRECT)
    buf = jack_port_get_buffer(address_as_voidptr(st[MIDI]), nframes)
    event = address_as_voidptr(voidptr_as_address(arg) + EVENT * 8)
    for j in range(jack_midi_get_event_count(buf)):
        if jack_midi_event_get(event, buf, j) == 0 and st[N_MIDI] < MAX_EVENTS and st[EVENT + 1] >= 3:
            msg = view_u8(st[EVENT + 2], 3)
            k = MIDI_EVENTS + 4 * st[N_MIDI]
            st[k] = base + (st[EVENT] & 0xFFFFFFFF)
            st[k + 1] = msg[0]
            st[k + 2] = msg[1]
            st[k + 3] = msg[2]
            st[N_MIDI] += 1
    st[COUNT] = base + nframes
    return 0


@numba.cfunc(types.int32(types.voidptr), nopython=True)
def _xrun(arg):
    st = numba.carray(arg, (SIZE,), np.int64)
    st[XRUNS] += 1
    return 0


class Probe:
    """The measuring client on ``server`` (a tests.jackd.JackServer)."""

    def __init__(self, server, name: str):
        self.client = server.client(name)
        self.out = self.client.outports.register("out")
        self.inp = self.client.inports.register("in")
        self.direct = self.client.inports.register("direct")
        self.midi = self.client.midi_inports.register("midi")
        self.st = np.zeros(SIZE, dtype=np.int64)
        for slot, port in ((OUT, self.out), (IN, self.inp), (DIRECT, self.direct), (MIDI, self.midi)):
            self.st[slot] = int(jack._ffi.cast("uintptr_t", port._ptr))
        self.st[TARGET] = -1
        arg = jack._ffi.cast("void *", self.st.ctypes.data)
        lib, ffi = jack._lib, jack._ffi
        assert (
            lib.jack_set_process_callback(self.client._ptr, ffi.cast("JackProcessCallback", _process.address), arg) == 0
        )
        assert lib.jack_set_xrun_callback(self.client._ptr, ffi.cast("JackXRunCallback", _xrun.address), arg) == 0
        self.client.activate()

    @property
    def count(self) -> int:
        """Frames this client has processed."""
        return int(self.st[COUNT])

    @property
    def xruns(self) -> int:
        return int(self.st[XRUNS])

    def impulse_at(self, count: int) -> None:
        """Play one sample of 1.0 when this client's own frame count reaches ``count``."""
        self.st[TARGET] = count

    @property
    def hits(self) -> list[int]:
        """Counts at which ``in`` saw a sample above 0.5."""
        return [int(x) for x in self.st[HITS_IN : HITS_IN + self.st[N_IN]]]

    @property
    def direct_hits(self) -> list[int]:
        return [int(x) for x in self.st[HITS_DIRECT : HITS_DIRECT + self.st[N_DIRECT]]]

    def cc(self, number: int) -> list[tuple[int, int]]:
        """(count, value) of every control change ``number`` received on ``midi``."""
        ev = self.st[MIDI_EVENTS : MIDI_EVENTS + 4 * self.st[N_MIDI]].reshape(-1, 4)
        return [(int(f), int(v)) for f, s, d1, v in ev if s & 0xF0 == 0xB0 and d1 == number]

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
