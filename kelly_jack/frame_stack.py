"""Keeping CPython's frame stack off ``mmap`` while Numba compiles (a cold start's hidden third).

CPython 3.11 (the version measured here) holds the frames of Python calls on a stack
of chunks (16 KiB each) and takes every chunk from the *arena allocator*, which on
Linux is a fresh ``mmap``; a chunk is ``munmap``-ed as soon as the call that needed it
returns. A hot call made just at the end of a chunk therefore costs an ``mmap``, four
page faults and an ``munmap`` each time. Numba's compiler is deeply recursive and calls the same
small functions millions of times: measured here with ``strace`` on a cold compile of
the rtneural backend's kernel, 0.44 to 0.75 million ``mmap``/``munmap`` pairs of
16 KiB, the count depending only on how deep the compile starts; the same compile
took 8.4 s of CPU from one stack depth and 13.3 s from another.

``use_malloc_chunks()`` replaces the arena allocator with a small one, compiled
with llvmlite (which Numba brings), that takes allocations below 256 KiB (the
frame-stack chunks) from ``malloc`` and hands larger ones (the object allocator's
1 MiB arenas) to the allocator it replaces. ``malloc`` keeps freed chunks for
reuse, so a chunk crossing costs a few hundred nanoseconds: the same compile then
takes 7.3 to 7.7 s of CPU from any depth.

Safe to call at any time, from any thread, any number of times: a block is freed
by whoever allocated it, told apart by its address (this allocator returns
``malloc``'s 16-byte-aligned pointer plus 8; the system allocators return 16-byte
or page-aligned ones), so chunks and arenas from before the switch go back to the
old allocator. Called where kernels are about to compile (``compile_workers``:
the workers and the process that starts them); it never runs on the audio thread
(which runs no Python). Does nothing, and returns False, where it cannot work (not
CPython, no llvmlite, a failure of any kind); the interpreter is then unchanged.
"""

from __future__ import annotations

import ctypes
import sys

SMALL = 256 * 1024  # bytes: below this, malloc (frame-stack chunks are 16 KiB; obmalloc's arenas 256 KiB or 1 MiB)
TAG = 8  # our blocks start this far into a malloc block: an address == 8 (mod 16) is ours

# the two functions, in LLVM IR; OLD_ALLOC and OLD_FREE are the replaced allocator's function addresses
_IR = """
declare i8* @malloc(i64)
declare void @free(i8*)

define i8* @kelly_arena_alloc(i8* %ctx, i64 %size) {
  %small = icmp ult i64 %size, SMALL
  br i1 %small, label %ours, label %old
ours:
  %padded = add i64 %size, 16
  %block = call i8* @malloc(i64 %padded)
  %none = icmp eq i8* %block, null
  br i1 %none, label %fail, label %tag
fail:
  ret i8* null
tag:
  %p = getelementptr i8, i8* %block, i64 TAG
  ret i8* %p
old:
  %alloc = inttoptr i64 OLD_ALLOC to i8* (i8*, i64)*
  %q = call i8* %alloc(i8* %ctx, i64 %size)
  ret i8* %q
}

define void @kelly_arena_free(i8* %ctx, i8* %p, i64 %size) {
  %addr = ptrtoint i8* %p to i64
  %low = and i64 %addr, 15
  %mine = icmp eq i64 %low, TAG
  br i1 %mine, label %ours, label %old
ours:
  %block = getelementptr i8, i8* %p, i64 -TAG
  call void @free(i8* %block)
  ret void
old:
  %free = inttoptr i64 OLD_FREE to void (i8*, i8*, i64)*
  call void %free(i8* %ctx, i8* %p, i64 %size)
  ret void
}
"""


class _ArenaAllocator(ctypes.Structure):
    """CPython's ``PyObjectArenaAllocator``: ctx, alloc(ctx, size), free(ctx, ptr, size)."""

    _fields_ = [("ctx", ctypes.c_void_p), ("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


_installed: list = []  # the engine that holds the machine code, the old and new allocators: kept for the process


def use_malloc_chunks() -> bool:
    """Route CPython's small arena allocations (frame-stack chunks) to ``malloc``; True once in place.

    Main thread or any other; takes about 50 ms the first time (an LLVM compile), nothing after. Never
    raises.
    """
    if _installed:
        return True
    if sys.implementation.name != "cpython" or not hasattr(ctypes, "pythonapi"):
        return False
    try:
        import llvmlite.binding as llvm

        old = _ArenaAllocator()
        ctypes.pythonapi.PyObject_GetArenaAllocator(ctypes.byref(old))
        if not old.alloc or not old.free:
            return False
        ir = (
            _IR.replace("OLD_ALLOC", str(old.alloc))
            .replace("OLD_FREE", str(old.free))
            .replace("SMALL", str(SMALL))
            .replace("TAG", str(TAG))
        )
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        module = llvm.parse_assembly(ir)
        module.verify()
        machine = llvm.Target.from_default_triple().create_target_machine()
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        new = _ArenaAllocator(
            old.ctx, engine.get_function_address("kelly_arena_alloc"), engine.get_function_address("kelly_arena_free")
        )
        if not new.alloc or not new.free:
            return False
    except Exception:  # noqa: BLE001 - an optimisation: without it the interpreter runs as it always did
        return False
    _installed.extend([engine, module, machine, old, new])
    ctypes.pythonapi.PyObject_SetArenaAllocator(ctypes.byref(new))
    return True
