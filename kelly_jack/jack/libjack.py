"""libjack and libc functions declared for Numba's nopython code.

They are declared as external symbols (``types.ExternalFunction``) resolved in
the very library JACK-Client loaded (``jack._libname``), so the pointers
JACK-Client hands out (``client._ptr``, ``port._ptr``) are valid here, and the
compiled kernels that call them can be cached on disk (a ctypes function
pointer would make every start recompile). Numba compiles the calls into
direct C calls: no GIL, no Python.
"""

from __future__ import annotations

import ctypes.util

import jack
from llvmlite import binding as llvm
from numba import types

llvm.load_library_permanently(jack._libname)
llvm.load_library_permanently(ctypes.util.find_library("c") or "libc.so.6")

_vp = types.voidptr
jack_port_get_buffer = types.ExternalFunction("jack_port_get_buffer", _vp(_vp, types.uint32))
jack_midi_clear_buffer = types.ExternalFunction("jack_midi_clear_buffer", types.void(_vp))
jack_midi_event_reserve = types.ExternalFunction(
    "jack_midi_event_reserve", types.CPointer(types.uint8)(_vp, types.uint32, types.uintp)
)
jack_midi_get_event_count = types.ExternalFunction("jack_midi_get_event_count", types.uint32(_vp))
jack_midi_event_get = types.ExternalFunction("jack_midi_event_get", types.int32(_vp, _vp, types.uint32))
jack_get_time = types.ExternalFunction("jack_get_time", types.uint64())
jack_last_frame_time = types.ExternalFunction("jack_last_frame_time", types.uint32(_vp))
libc_write = types.ExternalFunction("write", types.intp(types.int32, _vp, types.uintp))
libc_sched_yield = types.ExternalFunction("sched_yield", types.int32())
