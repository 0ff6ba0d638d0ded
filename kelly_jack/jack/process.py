"""The audio-thread kernel and the GIL-free JACK callbacks built on it.

``process_period(nframes, table)`` is everything kelly does per JACK period:

1. copy each input port's buffer into the audio ring (all channels or, when the
   ring is full, none; the dropped frames are counted) and wake the inference
   thread through its eventfd when a hop boundary is crossed;
2. take the user's valence/arousal, blend and ML switch from CCs on midi_in;
3. apply every result due in this period at its exact frame offset (a result
   for the window ending at input frame t is due at output frame t + L; one
   already past is applied at offset 0 and counted late);
4. send valence and arousal as 7-bit CCs on midi_out when they change, at
   most one message per controller per ``cc_min_interval`` frames;
5. record its own duration (jack_get_time) in the histogram.

``process_callback`` (a Numba ``@cfunc``) runs it on JACK's thread without the
Python interpreter; ``audio_thread: python`` calls the very same kernel from
JACK-Client's Python callback, as a reference for debugging.

Nothing here allocates, locks or waits; the only calls are libjack's and one
``write`` to an eventfd per hop.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

from ..rt import ring
from ..rt.atomics import (
    address_as_voidptr,
    view_f32_2d,
    view_f64,
    view_f64_2d,
    view_i64,
    view_u8,
    voidptr_as_address,
)
from ..rt.emotion import blend, cc_value, smoothing_alpha
from ..rt.histogram import hist_add
from ..rt.layout import (
    C_APPLIED,
    C_CLOCK,
    C_LATE,
    C_MAX_NFRAMES,
    C_MIDI_DROPPED,
    C_MIDI_IN,
    C_MIDI_SENT,
    C_PERIODS,
    C_TIME_MAX_US,
    C_WAKES,
    C_XRUNS,
    N_COUNTERS,
    N_PARAMS,
    N_STATE,
    P_CC_AROUSAL,
    P_CC_MIN_INTERVAL,
    P_CC_VALENCE,
    P_EVENTFD,
    P_HOP,
    P_IN_CC_AROUSAL,
    P_IN_CC_BLEND,
    P_IN_CC_ML,
    P_IN_CC_VALENCE,
    P_IN_CHANNEL,
    P_LATENCY,
    P_OUT_CHANNEL,
    P_SEND_CC,
    P_TAU,
    R_AROUSAL,
    R_FRAME,
    R_VALENCE,
    RECORD_WIDTH,
    S_BLEND,
    S_HAVE_RESULT,
    S_ML_A,
    S_ML_ON,
    S_ML_V,
    S_OUT_A,
    S_OUT_V,
    S_SENT_A,
    S_SENT_AT_A,
    S_SENT_AT_V,
    S_SENT_V,
    S_TARGET_A,
    S_TARGET_V,
    S_USER_A,
    S_USER_V,
    T_AUDIO_CAPACITY,
    T_AUDIO_DATA,
    T_AUDIO_HDR,
    T_CHANNELS,
    T_COUNTERS,
    T_HIST,
    T_HIST_BINS,
    T_PARAMS,
    T_PORTS,
    T_RESULT_CAPACITY,
    T_RESULT_DATA,
    T_RESULT_HDR,
    T_SCRATCH,
    T_STATE,
    TABLE_SIZE,
)
from .libjack import (
    jack_get_time,
    jack_midi_clear_buffer,
    jack_midi_event_get,
    jack_midi_event_reserve,
    jack_midi_get_event_count,
    jack_port_get_buffer,
    libc_write,
)

_jit = numba.njit(nogil=True, cache=True)


@_jit
def _inputs_to_ring(nframes, table, ports, counters, params):
    channels = table[T_CHANNELS]
    hdr = view_i64(table[T_AUDIO_HDR], ring.HEADER_SIZE)
    data = view_f32_2d(table[T_AUDIO_DATA], channels, table[T_AUDIO_CAPACITY])
    if ring.producer_space(hdr) < nframes:
        hdr[ring.H_OVERFLOW] += nframes
        return
    w = hdr[ring.H_WRITE]
    for ch in range(channels):
        buf = jack_port_get_buffer(address_as_voidptr(ports[ch]), nframes)
        src = numba.carray(buf, (nframes,), np.float32)
        ring.copy_in(data[ch], w, src, nframes)
    ring.producer_commit(hdr, nframes)
    hop = np.int64(params[P_HOP])
    efd = np.int64(params[P_EVENTFD])
    if efd >= 0 and hop > 0 and (w + nframes) // hop != w // hop:
        # scratch[3] holds the eventfd increment (1), set at allocation
        libc_write(efd, address_as_voidptr(table[T_SCRATCH] + 24), 8)
        counters[C_WAKES] += 1


@_jit
def _midi_in(nframes, table, ports, params, state, counters):
    channels = table[T_CHANNELS]
    buf = jack_port_get_buffer(address_as_voidptr(ports[channels + 1]), nframes)
    count = jack_midi_get_event_count(buf)
    if count == 0:
        return
    event = view_i64(table[T_SCRATCH], 3)  # jack_midi_event_t: time, size, buffer
    want_channel = np.int64(params[P_IN_CHANNEL])
    for i in range(count):
        if jack_midi_event_get(address_as_voidptr(table[T_SCRATCH]), buf, i) != 0:
            continue
        if event[1] < 3:
            continue
        msg = view_u8(event[2], 3)
        status = np.int64(msg[0])
        if status & 0xF0 != 0xB0:
            continue
        if want_channel >= 0 and status & 0x0F != want_channel:
            continue
        cc = np.int64(msg[1])
        value = np.int64(msg[2]) / 127.0
        if cc == np.int64(params[P_IN_CC_VALENCE]):
            state[S_USER_V] = 2.0 * value - 1.0
        elif cc == np.int64(params[P_IN_CC_AROUSAL]):
            state[S_USER_A] = 2.0 * value - 1.0
        elif cc == np.int64(params[P_IN_CC_BLEND]):
            state[S_BLEND] = value
        elif cc == np.int64(params[P_IN_CC_ML]):
            state[S_ML_ON] = 1.0 if msg[2] >= 64 else 0.0
        else:
            continue
        counters[C_MIDI_IN] += 1


@_jit
def _advance_smoothing(state, frames, tau):
    if frames <= 0:
        return
    k = smoothing_alpha(frames, tau)
    state[S_ML_V] += k * (state[S_TARGET_V] - state[S_ML_V])
    state[S_ML_A] += k * (state[S_TARGET_A] - state[S_ML_A])


@_jit
def _send_cc(out_buf, offset, frame, which_sent, which_at, cc, value, state, params, counters):
    """Send one CC if its 7-bit value changed and the rate limit allows."""
    q = cc_value(value)
    if q == np.int64(state[which_sent]):
        return
    if state[which_sent] >= 0 and frame - state[which_at] < params[P_CC_MIN_INTERVAL]:
        return
    data = jack_midi_event_reserve(out_buf, offset, 3)
    if voidptr_as_address(data) == 0:
        counters[C_MIDI_DROPPED] += 1
        return
    msg = numba.carray(data, (3,), np.uint8)
    msg[0] = 0xB0 | np.int64(params[P_OUT_CHANNEL])
    msg[1] = cc
    msg[2] = q
    state[which_sent] = q
    state[which_at] = frame
    counters[C_MIDI_SENT] += 1


@_jit
def _emit(out_buf, offset, clock, state, params, counters):
    if state[S_HAVE_RESULT] > 0.5:
        v = blend(state[S_ML_V], state[S_USER_V], state[S_BLEND], state[S_ML_ON])
        a = blend(state[S_ML_A], state[S_USER_A], state[S_BLEND], state[S_ML_ON])
    else:
        v = state[S_USER_V]
        a = state[S_USER_A]
    state[S_OUT_V] = v
    state[S_OUT_A] = a
    if params[P_SEND_CC] < 0.5:
        return
    frame = clock + offset
    cc_v = np.int64(params[P_CC_VALENCE])
    cc_a = np.int64(params[P_CC_AROUSAL])
    if cc_v >= 0:
        _send_cc(out_buf, offset, frame, S_SENT_V, S_SENT_AT_V, cc_v, v, state, params, counters)
    if cc_a >= 0:
        _send_cc(out_buf, offset, frame, S_SENT_A, S_SENT_AT_A, cc_a, a, state, params, counters)


@_jit
def _apply_results(nframes, out_buf, clock, table, params, state, counters):
    hdr = view_i64(table[T_RESULT_HDR], ring.HEADER_SIZE)
    data = view_f64_2d(table[T_RESULT_DATA], table[T_RESULT_CAPACITY], RECORD_WIDTH)
    latency = np.int64(params[P_LATENCY])
    tau = params[P_TAU]
    cursor = 0
    while True:
        row = ring.record_peek(hdr, data)
        if row < 0:
            break
        due = np.int64(data[row, R_FRAME]) + latency - clock
        if due >= nframes:
            break
        if due < 0:
            counters[C_LATE] += 1
        else:
            counters[C_APPLIED] += 1
        due = max(due, cursor)
        _advance_smoothing(state, due - cursor, tau)
        cursor = due
        state[S_TARGET_V] = data[row, R_VALENCE]
        state[S_TARGET_A] = data[row, R_AROUSAL]
        if state[S_HAVE_RESULT] < 0.5 or tau <= 0.0:
            state[S_ML_V] = state[S_TARGET_V]
            state[S_ML_A] = state[S_TARGET_A]
        state[S_HAVE_RESULT] = 1.0
        ring.record_pop(hdr)
        _emit(out_buf, due, clock, state, params, counters)
    _advance_smoothing(state, nframes - cursor, tau)


@_jit
def process_period(nframes, table):
    """Run one JACK period of ``nframes`` frames over the state reached through ``table``.

    Audio thread. Never allocates, locks or raises; returns 0 (JACK's "ok").
    """
    t0 = jack_get_time()
    counters = view_i64(table[T_COUNTERS], N_COUNTERS)
    params = view_f64(table[T_PARAMS], N_PARAMS)
    state = view_f64(table[T_STATE], N_STATE)
    channels = table[T_CHANNELS]
    ports = view_i64(table[T_PORTS], channels + 2)
    clock = counters[C_CLOCK]

    _inputs_to_ring(nframes, table, ports, counters, params)
    _midi_in(nframes, table, ports, params, state, counters)

    out_buf = jack_port_get_buffer(address_as_voidptr(ports[channels]), nframes)
    jack_midi_clear_buffer(out_buf)
    _emit(out_buf, 0, clock, state, params, counters)  # smoothing moved since last period
    _apply_results(nframes, out_buf, clock, table, params, state, counters)

    counters[C_CLOCK] = clock + nframes
    counters[C_PERIODS] += 1
    if nframes > counters[C_MAX_NFRAMES]:
        counters[C_MAX_NFRAMES] = nframes
    elapsed = np.int64(jack_get_time() - t0)
    hist_add(view_i64(table[T_HIST], table[T_HIST_BINS]), elapsed)
    if elapsed > counters[C_TIME_MAX_US]:
        counters[C_TIME_MAX_US] = elapsed
    return 0


@numba.cfunc(types.int32(types.uint32, types.voidptr), nopython=True, cache=True)
def process_callback(nframes, arg):
    """JackProcessCallback: ``arg`` is the address of the int64 state table."""
    return process_period(np.int64(nframes), numba.carray(arg, (TABLE_SIZE,), np.int64))


@numba.cfunc(types.int32(types.voidptr), nopython=True, cache=True)
def xrun_callback(arg):
    """JackXRunCallback: counts the xrun in the state table's counters."""
    table = numba.carray(arg, (TABLE_SIZE,), np.int64)
    counters = view_i64(table[T_COUNTERS], N_COUNTERS)
    counters[C_XRUNS] += 1
    return 0
