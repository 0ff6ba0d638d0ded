"""Memory fences and raw-pointer helpers for nopython code.

Numba has no atomics, so the rings publish positions with explicit LLVM fences:
the writer stores data, emits ``fence release``, then stores the position; the
reader loads the position, emits ``fence acquire``, then loads the data. On
x86-64 an aligned int64 load or store is single-copy atomic; the fences order
the accesses for both the compiler and weaker CPUs (AArch64).

``address_as_voidptr`` turns an int64 address (as stored in the state table that
the audio callback receives) back into a ``void *`` for ``numba.carray``.

Every helper here may run on the JACK audio thread: no allocation, no locking.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def fence_release(typingctx):
    """Emit an LLVM ``fence release``: earlier memory accesses complete first."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        builder.fence("release")
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def fence_acquire(typingctx):
    """Emit an LLVM ``fence acquire``: later memory accesses happen after it."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        builder.fence("acquire")
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def address_as_voidptr(typingctx, address):
    """Reinterpret an integer address as a ``void *`` (no check: caller's contract)."""
    if not isinstance(address, types.Integer):
        return None
    sig = types.voidptr(address)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return sig, codegen


@intrinsic
def voidptr_as_address(typingctx, pointer):
    """The integer value of a ``void *`` (for comparing against NULL)."""
    if not isinstance(pointer, (types.RawPointer, types.CPointer)):
        return None
    sig = types.int64(pointer)

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], cgutils.intp_t)

    return sig, codegen


@numba.njit(inline="always")
def view_i64(address, n):
    """An int64 array of ``n`` items at ``address``."""
    return numba.carray(address_as_voidptr(address), (n,), numba.int64)


@numba.njit(inline="always")
def view_f64(address, n):
    """A float64 array of ``n`` items at ``address``."""
    return numba.carray(address_as_voidptr(address), (n,), numba.float64)


@numba.njit(inline="always")
def view_f32_2d(address, rows, cols):
    """A C-ordered float32 array of shape (rows, cols) at ``address``."""
    return numba.carray(address_as_voidptr(address), (rows, cols), numba.float32)


@numba.njit(inline="always")
def view_f64_2d(address, rows, cols):
    """A C-ordered float64 array of shape (rows, cols) at ``address``."""
    return numba.carray(address_as_voidptr(address), (rows, cols), numba.float64)


@numba.njit(inline="always")
def view_u8(address, n):
    """A uint8 array of ``n`` items at ``address``."""
    return numba.carray(address_as_voidptr(address), (n,), numba.uint8)


@numba.njit(inline="always")
def view_i64_2d(address, rows, cols):
    """A C-ordered int64 array of shape (rows, cols) at ``address``."""
    return numba.carray(address_as_voidptr(address), (rows, cols), numba.int64)
