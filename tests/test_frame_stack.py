"""kelly_jack.frame_stack: CPython's frame-stack chunks from malloc while kernels compile.

Each check runs in a fresh interpreter of its own (the switch is for the life of a process).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.implementation.name != "cpython", reason="a CPython allocator")

# A call made right at the end of a frame-stack chunk, many times: for each depth up to 600 frames (well past
# the first 16 KiB chunk), the largest number of minor page faults that 2000 calls of a leaf with a big frame
# caused. With mmap-ed chunks at least one depth faults on every call; with malloc-ed ones none should.
CROSSINGS = """
import resource

def leaf():
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = b9 = 0
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = d8 = d9 = 0
    return a0

def down(depth, calls):
    if depth:
        return down(depth - 1, calls)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        leaf()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def worst_depth_faults():
    return max(down(depth, 2000) for depth in range(600))
"""


def run(code: str) -> str:
    """Run ``code`` in a fresh interpreter with kelly_jack importable; its stdout (fails on a non-zero exit)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_calls_at_a_chunk_end_stop_mapping_pages_after_the_switch():
    out = run(
        CROSSINGS
        + """
import sys
sys.setrecursionlimit(5000)
before = worst_depth_faults()
from kelly_jack import frame_stack
assert frame_stack.use_malloc_chunks()
after = worst_depth_faults()
print(before, after)
"""
    )
    before, after = map(int, out.split())
    assert before >= 2000  # the workload does cross a chunk end on every call with the interpreter's allocator
    assert after < 200


def test_blocks_from_before_the_switch_go_back_to_the_allocator_that_made_them():
    # a thread whose chunks were mapped before the switch ends after it; chunks mapped deep in the stack are
    # released after the switch; object arenas filled before are emptied after. A block freed by the wrong
    # allocator aborts the interpreter (free() of an mmap-ed block) or leaks.
    out = run(
        """
import gc, sys, threading
sys.setrecursionlimit(5000)
from kelly_jack import frame_stack

started, release = threading.Event(), threading.Event()
def worker():
    started.set()
    release.wait()
thread = threading.Thread(target=worker)
thread.start()
started.wait()

junk = [[i] * 3 for i in range(300_000)]  # many obmalloc arenas before the switch

def deep(n):
    return frame_stack.use_malloc_chunks() if n == 0 else deep(n - 1)
assert deep(1500)  # switch while frames sit in chunks mapped before it

release.set()
thread.join()
del junk
gc.collect()
more = [[i] * 3 for i in range(300_000)]  # arenas after the switch
def again(n):
    return 0 if n == 0 else again(n - 1) + 1
print(again(1500), len(more), frame_stack.use_malloc_chunks())
"""
    )
    assert out.split() == ["1500", "300000", "True"]


def test_a_kernel_compiled_after_the_switch_computes_what_it_did_before():
    out = run(
        """
import numpy as np
from numba import njit
from kelly_jack import frame_stack

@njit
def smooth(x, alpha):
    y = np.empty_like(x)
    acc = 0.0
    for i in range(x.size):
        acc += alpha * (x[i] - acc)
        y[i] = acc
    return y

x = np.random.default_rng(1).standard_normal(1000)
first = smooth(x, 0.1)
assert frame_stack.use_malloc_chunks()
second = njit(smooth.py_func)(x, 0.1)  # a fresh dispatcher: compiles after the switch
print(float(np.max(np.abs(first - second))))
"""
    )
    assert float(out) == 0.0
