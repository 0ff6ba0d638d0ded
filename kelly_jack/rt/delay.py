"""The delay line that makes the audio outputs: each input delayed by exactly L frames.

One circular float32 row per channel, with a power-of-two capacity of at least
L plus the largest period. ``position`` is the client frame of ``src[0]``; the
output frame ``position + i`` carries input frame ``position + i - L``, which
is silence before the client started. Audio thread; no allocation.
"""

from __future__ import annotations

import numba

from .ring import copy_in, copy_out


def delay_capacity(latency: int, max_period: int = 8192) -> int:
    """The smallest power of two that holds ``latency`` plus one period of ``max_period`` frames."""
    need = latency + max_period
    return 1 << max(need - 1, 1).bit_length()


@numba.njit(nogil=True, cache=True)
def delay_process(line, position, latency, src, dst, n):
    """Write ``src[:n]`` at ``position`` into ``line``, then read ``n`` frames ``latency`` back into ``dst``."""
    copy_in(line, position, src, n)
    copy_out(line, position - latency, dst, n)
