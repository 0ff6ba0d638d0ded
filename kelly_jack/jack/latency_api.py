"""JACK's latency API, which JACK-Client does not bind, as a small cffi ABI-mode binding.

It opens the same libjack JACK-Client loaded (``jack._libname``) and works on
JACK-Client's client and port pointers (``client._ptr``, ``port._ptr``), which
is why pyproject.toml pins JACK-Client to the range these private names were
checked on. Ranges are in frames.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import cffi
import jack

ffi = cffi.FFI()
ffi.cdef(
    """
    typedef struct { uint32_t min; uint32_t max; } jack_latency_range_t;
    typedef enum { JackCaptureLatency, JackPlaybackLatency } jack_latency_callback_mode_t;
    typedef void (*JackLatencyCallback)(jack_latency_callback_mode_t mode, void *arg);
    int jack_set_latency_callback(void *client, JackLatencyCallback callback, void *arg);
    void jack_port_get_latency_range(void *port, jack_latency_callback_mode_t mode, jack_latency_range_t *range);
    void jack_port_set_latency_range(void *port, jack_latency_callback_mode_t mode, jack_latency_range_t *range);
    """
)
lib = ffi.dlopen(jack._libname)

CAPTURE = lib.JackCaptureLatency
PLAYBACK = lib.JackPlaybackLatency


def _ptr(jack_object) -> object:
    """A JACK-Client client or port (or its cffi pointer) as this binding's ``void *``."""
    raw = getattr(jack_object, "_ptr", jack_object)
    return ffi.cast("void *", int(jack._ffi.cast("uintptr_t", raw)))


def get_range(port, mode: int) -> tuple[int, int]:
    """(min, max) latency of any port (ours or another client's) for ``mode``."""
    r = ffi.new("jack_latency_range_t *")
    lib.jack_port_get_latency_range(_ptr(port), mode, r)
    return int(r.min), int(r.max)


def set_range(port, mode: int, low: int, high: int) -> None:
    """Set one of our own ports' latency range: jackd2 takes it only inside the latency callback,
    PipeWire's libjack from any thread (see port_latency)."""
    r = ffi.new("jack_latency_range_t *")
    r.min, r.max = low, high
    lib.jack_port_set_latency_range(_ptr(port), mode, r)


def set_latency_callback(client, callback: Callable[[int], None]):
    """Register ``callback(mode)``; returns the cffi handle, which the caller must keep alive.

    Raises jack.JackError when the server refuses. Registering replaces JACK's
    default propagation, so the callback must set every port's range itself.
    JACK calls it on its notification thread, not the audio thread.
    """

    def trampoline(mode, arg):
        try:
            callback(int(mode))
        except Exception as e:  # an exception must not unwind into libjack
            print(f"kelly-jack: latency callback failed: {e}", file=sys.stderr)

    handle = ffi.callback("JackLatencyCallback", trampoline)
    if lib.jack_set_latency_callback(_ptr(client), handle, ffi.NULL) != 0:
        raise jack.JackError("jack_set_latency_callback failed")
    return handle
