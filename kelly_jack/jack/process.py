"""The audio-thread kernel and the GIL-free JACK callbacks built on it.

``process_period(nframes, table)`` is everything kelly does per JACK period:

1. copy each input port's buffer into the audio ring (all channels or, when the
   ring is full, none; the dropped frames are counted) and wake the inference
   thread through its eventfd when a hop boundary is crossed; feed the delay
   line that makes ``out_1..out_N`` (each input L frames later);
2. take the user's valence/arousal, blend and ML switch from CCs on midi_in;
3. apply every result due in this period at its exact frame offset (a result
   for the window ending at input frame t is due at output frame t + L; one
   already past is applied at offset 0 and counted late);
4. send valence and arousal as 7-bit CCs on midi_out when they change, at
   most one message per controller per ``cc_min_interval`` frames;
5. write the generators' events (the MIDI event ring) due in this period at
   their exact offsets, merged in time order with the CCs (JACK refuses
   events out of order); late ones go out at once and are counted;
6. record its own duration (jack_get_time) in the histogram.

``process_callback`` (a Numba ``@cfunc``) runs it on JACK's thread without the
Python interpreter; ``audio_thread: python`` calls the very same kernel from
JACK-Client's Python callback, as a reference for debugging.

Nothing here allocates, locks or waits; the only calls are libjack's and one
``write`` to an eventfd per hop. Nothing depends on the buffer-size callback:
any ``nframes`` works (PipeWire may pass fewer frames than the buffer size),
up to the audio ring's capacity (2^17, far above JACK's largest period, 8192).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

from ..rt import midi_events, ring, shared_state
from ..rt.atomics import (
    address_as_voidptr,
    fence_acquire,
    view_f32_2d,
    view_f64,
    view_f64_2d,
    view_i64,
    view_i64_2d,
    view_u8,
    voidptr_as_address,
)
from ..rt.delay import delay_process
from ..rt.emotion import blend, cc_value, smoothing_alpha
from ..rt.histogram import hist_add
from .libjack import (
    jack_get_time,
    jack_last_frame_time,
    jack_midi_clear_buffer,
    jack_midi_event_get,
    jack_midi_event_reserve,
    jack_midi_get_event_count,
    jack_port_get_buffer,
    libc_sched_yield,
    libc_write,
)

_jit = numba.njit(nogil=True, cache=True)


@_jit
def _inputs_to_ring(nframes, table, ports, counters, params):
    channels = table[shared_state.T_CHANNELS]
    hdr = view_i64(table[shared_state.T_AUDIO_HDR], ring.HEADER_SIZE)
    data = view_f32_2d(table[shared_state.T_AUDIO_DATA], channels, table[shared_state.T_AUDIO_CAPACITY])
    if ring.producer_space(hdr) < nframes:
        hdr[ring.H_OVERFLOW] += nframes
        return
    w = hdr[ring.H_WRITE]
    offline = table[shared_state.T_OFFLINE_IN]
    for ch in range(channels):
        if offline != 0:
            src = view_f32_2d(offline, channels, shared_state.OFFLINE_BLOCK)[ch]
        else:
            src = numba.carray(jack_port_get_buffer(address_as_voidptr(ports[ch]), nframes), (nframes,), np.float32)
        ring.copy_in(data[ch], w, src, nframes)
    ring.producer_commit(hdr, nframes)
    hop = np.int64(params[shared_state.P_HOP])
    efd = np.int64(params[shared_state.P_EVENTFD])
    if efd >= 0 and hop > 0 and (w + nframes) // hop != w // hop:
        # scratch[3] holds the eventfd increment (1), set at allocation
        libc_write(efd, address_as_voidptr(table[shared_state.T_SCRATCH] + 24), 8)
        counters[shared_state.C_WAKES] += 1


@_jit
def _wait_for_inference(table, counters):
    """Freewheel only (no deadline then): spin until the inference thread has analysed every complete
    window, so each result is in the result ring before its period, as in the offline render."""
    hdr = view_i64(table[shared_state.T_AUDIO_HDR], ring.HEADER_SIZE)
    sync = view_i64(table[shared_state.T_SYNC], shared_state.SYNC_SIZE)
    w = hdr[ring.H_WRITE]
    if sync[shared_state.Y_NEXT_END] > w:
        return
    counters[shared_state.C_FREEWHEEL_WAITS] += 1
    t0 = jack_get_time()
    while True:
        next_end = sync[shared_state.Y_NEXT_END]
        fence_acquire()
        if next_end > w or np.int64(jack_get_time() - t0) > shared_state.FREEWHEEL_WAIT_US:
            return
        libc_sched_yield()


@_jit
def _delay_outputs(nframes, clock, table, ports, params):
    channels = table[shared_state.T_CHANNELS]
    line = view_f32_2d(table[shared_state.T_DELAY], channels, table[shared_state.T_DELAY_CAPACITY])
    latency = np.int64(params[shared_state.P_LATENCY])
    for ch in range(channels):
        src = numba.carray(jack_port_get_buffer(address_as_voidptr(ports[ch]), nframes), (nframes,), np.float32)
        out = jack_port_get_buffer(address_as_voidptr(ports[channels + 2 + ch]), nframes)
        delay_process(line[ch], clock, latency, src, numba.carray(out, (nframes,), np.float32), nframes)


@_jit
def _midi_in(nframes, table, ports, params, state, counters):
    channels = table[shared_state.T_CHANNELS]
    buf = jack_port_get_buffer(address_as_voidptr(ports[channels + 1]), nframes)
    count = jack_midi_get_event_count(buf)
    if count == 0:
        return
    event = view_i64(table[shared_state.T_SCRATCH], 3)  # jack_midi_event_t: time, size, buffer
    want_channel = np.int64(params[shared_state.P_IN_CHANNEL])
    for i in range(count):
        if jack_midi_event_get(address_as_voidptr(table[shared_state.T_SCRATCH]), buf, i) != 0:
            continue
        if event[1] != 3:  # a CC is exactly 3 bytes; JACK events are single messages (no running status)
            continue
        msg = view_u8(event[2], 3)
        status = np.int64(msg[0])
        if status & 0xF0 != 0xB0 or msg[1] > 127 or msg[2] > 127:  # data bytes are 7-bit
            continue
        if want_channel >= 0 and status & 0x0F != want_channel:
            continue
        cc = np.int64(msg[1])
        value = np.int64(msg[2]) / 127.0
        if cc == np.int64(params[shared_state.P_IN_CC_VALENCE]):
            state[shared_state.S_USER_V] = 2.0 * value - 1.0
        elif cc == np.int64(params[shared_state.P_IN_CC_AROUSAL]):
            state[shared_state.S_USER_A] = 2.0 * value - 1.0
        elif cc == np.int64(params[shared_state.P_IN_CC_BLEND]):
            state[shared_state.S_BLEND] = value
        elif cc == np.int64(params[shared_state.P_IN_CC_ML]):
            state[shared_state.S_ML_ON] = 1.0 if msg[2] >= 64 else 0.0
        else:
            continue
        counters[shared_state.C_MIDI_IN] += 1


@_jit
def _advance_smoothing(state, frames, tau):
    if frames <= 0:
        return
    k = smoothing_alpha(frames, tau)
    state[shared_state.S_ML_V] += k * (state[shared_state.S_TARGET_V] - state[shared_state.S_ML_V])
    state[shared_state.S_ML_A] += k * (state[shared_state.S_TARGET_A] - state[shared_state.S_ML_A])


@_jit
def _put(out_buf, offset, packed, clock, table, counters):
    """Write one packed message at ``offset`` on midi_out (or, offline, into the sink); False if refused."""
    size = midi_events.message_size(packed)
    if table[shared_state.T_OFFLINE_IN] != 0:
        n = counters[shared_state.C_OFFLINE_MIDI]
        if n >= table[shared_state.T_OFFLINE_MIDI_CAPACITY]:
            counters[shared_state.C_MIDI_DROPPED] += 1
            return False
        sink = view_i64_2d(table[shared_state.T_OFFLINE_MIDI], table[shared_state.T_OFFLINE_MIDI_CAPACITY], 2)
        sink[n, 0] = clock + offset
        sink[n, 1] = packed
        counters[shared_state.C_OFFLINE_MIDI] = n + 1
        return True
    buf = jack_midi_event_reserve(out_buf, offset, size)
    if voidptr_as_address(buf) == 0:
        counters[shared_state.C_MIDI_DROPPED] += 1
        return False
    msg = numba.carray(buf, (size,), np.uint8)
    for i in range(size):
        msg[i] = midi_events.message_byte(packed, i)
    return True


@_jit
def _send_cc(out_buf, offset, clock, which_sent, which_at, cc, value, state, params, counters, table):
    """Send one CC at ``offset`` if its 7-bit value changed and the rate limit allows."""
    frame = clock + offset
    q = cc_value(value)
    if q == np.int64(state[which_sent]):
        return
    if state[which_sent] >= 0 and frame - state[which_at] < params[shared_state.P_CC_MIN_INTERVAL]:
        return
    packed = midi_events.pack(0xB0 | np.int64(params[shared_state.P_OUT_CHANNEL]), cc, q, 3)
    if not _put(out_buf, offset, packed, clock, table, counters):
        return
    state[which_sent] = q
    state[which_at] = frame
    counters[shared_state.C_MIDI_SENT] += 1


@_jit
def _emit(out_buf, offset, clock, state, params, counters, table):
    if state[shared_state.S_HAVE_RESULT] > 0.5:
        v = blend(
            state[shared_state.S_ML_V],
            state[shared_state.S_USER_V],
            state[shared_state.S_BLEND],
            state[shared_state.S_ML_ON],
        )
        a = blend(
            state[shared_state.S_ML_A],
            state[shared_state.S_USER_A],
            state[shared_state.S_BLEND],
            state[shared_state.S_ML_ON],
        )
    else:
        v = state[shared_state.S_USER_V]
        a = state[shared_state.S_USER_A]
    state[shared_state.S_OUT_V] = v
    state[shared_state.S_OUT_A] = a
    if params[shared_state.P_SEND_CC] < 0.5:
        return
    cc_v = np.int64(params[shared_state.P_CC_VALENCE])
    cc_a = np.int64(params[shared_state.P_CC_AROUSAL])
    if cc_v >= 0:
        _send_cc(
            out_buf,
            offset,
            clock,
            shared_state.S_SENT_V,
            shared_state.S_SENT_AT_V,
            cc_v,
            v,
            state,
            params,
            counters,
            table,
        )
    if cc_a >= 0:
        _send_cc(
            out_buf,
            offset,
            clock,
            shared_state.S_SENT_A,
            shared_state.S_SENT_AT_A,
            cc_a,
            a,
            state,
            params,
            counters,
            table,
        )


@_jit
def _write_events(out_buf, clock, upto, last, table, counters):
    """Write the generators' events due before offset ``upto``, in order; return the last offset used."""
    hdr = view_i64(table[shared_state.T_EVENT_HDR], ring.HEADER_SIZE)
    data = view_i64_2d(table[shared_state.T_EVENT_DATA], table[shared_state.T_EVENT_CAPACITY], midi_events.EVENT_WIDTH)
    while True:
        offset, packed, late = midi_events.take_due(hdr, data, clock, upto, last)
        if offset < 0:
            return last
        if late:
            counters[shared_state.C_EVENTS_LATE] += 1
        if not _put(out_buf, offset, packed, clock, table, counters):
            continue
        counters[shared_state.C_EVENTS_SENT] += 1
        last = offset


@_jit
def _apply_results(nframes, out_buf, clock, table, params, state, counters, last):
    hdr = view_i64(table[shared_state.T_RESULT_HDR], ring.HEADER_SIZE)
    data = view_f64_2d(
        table[shared_state.T_RESULT_DATA], table[shared_state.T_RESULT_CAPACITY], shared_state.RECORD_WIDTH
    )
    latency = np.int64(params[shared_state.P_LATENCY])
    tau = params[shared_state.P_TAU]
    cursor = 0
    while True:
        row = ring.record_peek(hdr, data)
        if row < 0:
            break
        due = np.int64(data[row, shared_state.R_FRAME]) + latency - clock
        if due >= nframes:
            break
        if due < 0:
            counters[shared_state.C_LATE] += 1
        else:
            counters[shared_state.C_APPLIED] += 1
        due = max(due, cursor)
        last = _write_events(out_buf, clock, due, last, table, counters)  # JACK wants time order
        _advance_smoothing(state, due - cursor, tau)
        cursor = due
        state[shared_state.S_TARGET_V] = data[row, shared_state.R_VALENCE]
        state[shared_state.S_TARGET_A] = data[row, shared_state.R_AROUSAL]
        if state[shared_state.S_HAVE_RESULT] < 0.5 or tau <= 0.0:
            state[shared_state.S_ML_V] = state[shared_state.S_TARGET_V]
            state[shared_state.S_ML_A] = state[shared_state.S_TARGET_A]
        state[shared_state.S_HAVE_RESULT] = 1.0
        ring.record_pop(hdr)
        _emit(out_buf, due, clock, state, params, counters, table)
        last = max(last, due)
    _advance_smoothing(state, nframes - cursor, tau)
    _write_events(out_buf, clock, nframes, last, table, counters)


@_jit
def process_period(nframes, table):
    """Run one JACK period of ``nframes`` frames over the state reached through ``table``.

    Audio thread. Never allocates, locks or raises; returns 0 (JACK's "ok").
    Offline (``table[T_OFFLINE_IN] != 0``, the renderer) the same code reads
    its input from that block and writes midi_out into the offline sink; no
    libjack call is made then.
    """
    offline = table[shared_state.T_OFFLINE_IN] != 0
    t0 = np.uint64(0) if offline else jack_get_time()
    counters = view_i64(table[shared_state.T_COUNTERS], shared_state.N_COUNTERS)
    params = view_f64(table[shared_state.T_PARAMS], shared_state.N_PARAMS)
    state = view_f64(table[shared_state.T_STATE], shared_state.N_STATE)
    channels = table[shared_state.T_CHANNELS]
    ports = view_i64(table[shared_state.T_PORTS], 2 * channels + 2)
    clock = counters[shared_state.C_CLOCK]
    if table[shared_state.T_CLIENT] != 0:  # JACK's frame time minus kelly's (it grows by a period per skipped cycle)
        now = np.int64(jack_last_frame_time(address_as_voidptr(table[shared_state.T_CLIENT])))
        counters[shared_state.C_ORIGIN] = now - clock

    _inputs_to_ring(nframes, table, ports, counters, params)
    if state[shared_state.S_FREEWHEEL] > 0.5 and not offline:
        _wait_for_inference(table, counters)
    if offline:
        out_buf = address_as_voidptr(0)
    else:
        if table[shared_state.T_OUTPUTS] != 0:
            _delay_outputs(nframes, clock, table, ports, params)
        _midi_in(nframes, table, ports, params, state, counters)
        out_buf = jack_port_get_buffer(address_as_voidptr(ports[channels]), nframes)
        jack_midi_clear_buffer(out_buf)
    # np.int64(0), not 0: a literal compiles _emit, _write_events and their callees a second time
    _emit(out_buf, np.int64(0), clock, state, params, counters, table)  # smoothing moved since last period
    _apply_results(nframes, out_buf, clock, table, params, state, counters, np.int64(0))

    counters[shared_state.C_CLOCK] = clock + nframes
    counters[shared_state.C_PERIODS] += 1
    if nframes > counters[shared_state.C_MAX_NFRAMES]:
        counters[shared_state.C_MAX_NFRAMES] = nframes
    if offline:
        return 0
    elapsed = np.int64(jack_get_time() - t0)
    hist_add(view_i64(table[shared_state.T_HIST], table[shared_state.T_HIST_BINS]), elapsed)
    if elapsed > counters[shared_state.C_TIME_MAX_US]:
        counters[shared_state.C_TIME_MAX_US] = elapsed
    return 0


@numba.cfunc(types.int32(types.uint32, types.voidptr), nopython=True, cache=True)
def process_callback(nframes, arg):
    """JackProcessCallback: ``arg`` is the address of the int64 state table."""
    return process_period(np.int64(nframes), numba.carray(arg, (shared_state.TABLE_SIZE,), np.int64))


@numba.cfunc(types.void(types.int32, types.voidptr), nopython=True, cache=True)
def freewheel_callback(starting, arg):
    """JackFreewheelCallback: while JACK freewheels, each period waits for its inference."""
    table = numba.carray(arg, (shared_state.TABLE_SIZE,), np.int64)
    state = view_f64(table[shared_state.T_STATE], shared_state.N_STATE)
    state[shared_state.S_FREEWHEEL] = 1.0 if starting != 0 else 0.0


@numba.cfunc(types.int32(types.voidptr), nopython=True, cache=True)
def xrun_callback(arg):
    """JackXRunCallback: counts the xrun in the state table's counters."""
    table = numba.carray(arg, (shared_state.TABLE_SIZE,), np.int64)
    counters = view_i64(table[shared_state.T_COUNTERS], shared_state.N_COUNTERS)
    counters[shared_state.C_XRUNS] += 1
    return 0
