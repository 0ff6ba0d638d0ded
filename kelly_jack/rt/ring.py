"""Single-producer single-consumer lock-free rings over preallocated arrays.

A ring is two arrays: an int64 header (``new_header``) and a data array whose
first axis (records) or last axis (frames) has a power-of-two capacity. The
header holds monotonically increasing 64-bit write and read positions, on
separate cache lines, and an overflow counter that only the producer writes.

Protocol (the only rules that make this safe):

* The producer owns the write position and the overflow counter; the consumer
  owns the read position. Each side only ever *stores* its own position.
* Producer: load read position, ``fence acquire``, write data, ``fence release``,
  store write position.
* Consumer: load write position, ``fence acquire``, read data, ``fence release``,
  store read position (so the producer cannot overwrite data still being read).
* Nothing blocks. A producer that cannot write counts the items in the
  overflow counter (``write_all`` variants) or returns a short count
  (``try_write``).

All functions are Numba ``nopython, nogil`` kernels safe on the audio thread.
"""

from __future__ import annotations

import numba
import numpy as np

from .atomics import fence_acquire, fence_release

HEADER_SIZE = 24
H_WRITE = 0  # producer's position (cache line 0)
H_OVERFLOW = 1  # items the producer could not write
H_READ = 8  # consumer's position (cache line 1)
H_CAPACITY = 16  # read-only after creation (cache line 2)

_jit = numba.njit(nogil=True, cache=True)


def new_header(capacity: int) -> np.ndarray:
    """A zeroed ring header for ``capacity`` items; raises ValueError unless a power of two."""
    if capacity < 2 or capacity & (capacity - 1):
        raise ValueError(f"ring capacity must be a power of two >= 2, got {capacity}")
    hdr = np.zeros(HEADER_SIZE, dtype=np.int64)
    hdr[H_CAPACITY] = capacity
    return hdr


@_jit
def ring_reset(hdr):
    """Forget all contents and counters. Only while neither side runs."""
    hdr[H_WRITE] = 0
    hdr[H_READ] = 0
    hdr[H_OVERFLOW] = 0


# --------------------------------------------------------------------- both sides


@_jit
def producer_space(hdr):
    """Free slots as the producer sees them (never more than truly free)."""
    r = hdr[H_READ]
    fence_acquire()
    return hdr[H_CAPACITY] - (hdr[H_WRITE] - r)


@_jit
def producer_commit(hdr, n):
    """Publish ``n`` items the producer has written after the write position."""
    fence_release()
    hdr[H_WRITE] = hdr[H_WRITE] + n


@_jit
def consumer_available(hdr):
    """Items ready to read as the consumer sees them (never more than truly written)."""
    w = hdr[H_WRITE]
    fence_acquire()
    return w - hdr[H_READ]


@_jit
def consumer_write_position(hdr):
    """The producer's write position, loaded with acquire ordering (consumer side)."""
    w = hdr[H_WRITE]
    fence_acquire()
    return w


@_jit
def consumer_release_to(hdr, position):
    """Free every item before ``position`` (consumer side; never moves backwards)."""
    fence_release()
    if position > hdr[H_READ]:
        hdr[H_READ] = position


# ---------------------------------------------------------------- frame rings


@_jit
def _copy(src, dst):
    """dst[i] = src[i] for the shorter of the two; no shape check, so no error path (a slice assignment
    compiles Numba's shape-mismatch message: a second of string formatting code in a cold start)."""
    for i in range(min(src.shape[0], dst.shape[0])):
        dst[i] = src[i]


@_jit
def copy_in(row, position, src, n):
    """Copy ``src[:n]`` into the circular ``row`` starting at absolute ``position``."""
    mask = row.shape[0] - 1
    start = position & mask
    first = min(n, row.shape[0] - start)
    _copy(src[:first], row[start : start + first])
    if first < n:
        _copy(src[first:n], row[: n - first])


@_jit
def copy_out(row, position, dst, n):
    """Copy ``n`` frames of the circular ``row`` from absolute ``position`` into ``dst``."""
    mask = row.shape[0] - 1
    start = position & mask
    first = min(n, row.shape[0] - start)
    _copy(row[start : start + first], dst[:first])
    if first < n:
        _copy(row[: n - first], dst[first:n])


@_jit
def try_write(hdr, data, src, n):
    """Write as many of ``src[:n]`` as fit into a 1-D ring; return how many."""
    k = min(n, producer_space(hdr))
    if k <= 0:
        return 0
    copy_in(data, hdr[H_WRITE], src, k)
    producer_commit(hdr, k)
    return k


@_jit
def write_all(hdr, data, src, n):
    """Write all of ``src[:n]`` into a 1-D ring, or nothing and count ``n`` as overflow."""
    if producer_space(hdr) < n:
        hdr[H_OVERFLOW] += n
        return False
    copy_in(data, hdr[H_WRITE], src, n)
    producer_commit(hdr, n)
    return True


@_jit
def read(hdr, data, dst, n):
    """Read up to ``n`` frames from a 1-D ring into ``dst``; return how many."""
    k = min(n, consumer_available(hdr))
    if k <= 0:
        return 0
    r = hdr[H_READ]
    copy_out(data, r, dst, k)
    consumer_release_to(hdr, r + k)
    return k


# --------------------------------------------------------------- record rings


@_jit
def record_push(hdr, data, record):
    """Append one record (a row of ``data``'s width); on a full ring count it and return False."""
    if producer_space(hdr) < 1:
        hdr[H_OVERFLOW] += 1
        return False
    w = hdr[H_WRITE]
    _copy(record, data[w & (data.shape[0] - 1)])
    producer_commit(hdr, 1)
    return True


@_jit
def record_peek(hdr, data):
    """Row index of the oldest unread record, or -1 when empty. Does not consume it."""
    if consumer_available(hdr) < 1:
        return -1
    return hdr[H_READ] & (data.shape[0] - 1)


@_jit
def record_pop(hdr):
    """Consume the oldest record (after ``record_peek`` returned a row)."""
    consumer_release_to(hdr, hdr[H_READ] + 1)
