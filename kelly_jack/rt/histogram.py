"""Per-period timing histogram: written by the audio thread, read by anyone.

The histogram is an int64 array with one bin per microsecond; the last bin
collects everything at or above its index. Readers tolerate a torn view (a
count off by one period), which is why no lock is needed.
"""

from __future__ import annotations

import numba
import numpy as np

HIST_BINS = 20_001  # 0 .. 20 ms in 1 us bins, plus an overflow bin


def new_histogram() -> np.ndarray:
    """A zeroed histogram of HIST_BINS int64 counts."""
    return np.zeros(HIST_BINS, dtype=np.int64)


@numba.njit(nogil=True, cache=True)
def hist_add(hist, microseconds):
    """Count one period that took ``microseconds`` (audio thread)."""
    i = microseconds
    if i < 0:
        i = 0
    last = hist.shape[0] - 1
    if i > last:
        i = last
    hist[i] += 1


def hist_percentile(hist: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0..100) in microseconds; NaN for an empty histogram."""
    counts = np.asarray(hist, dtype=np.int64).copy()
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    rank = q / 100.0 * total
    cumulative = np.cumsum(counts)
    return float(np.searchsorted(cumulative, max(rank, 1), side="left"))
