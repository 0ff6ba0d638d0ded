"""Deltas (nopython kernel, inference thread): the short-term slope of the features in ``layout.DELTA_OF``.

librosa's ``delta(width=5, order=1, mode='nearest')`` made causal: the slope
over the last ``DELTA_WIDTH`` hops, which is librosa's value of two hops
earlier. The history is padded with the first value after a reset.
"""

from __future__ import annotations

from . import layout as L
from .group import State, kernel

DELTA_WIDTH = 5  # librosa.feature.delta's default width, made causal (it lags 2 hops)

SLOTS = tuple(range(L.DELTAS, L.DELTAS + len(L.DELTA_OF)))
ARRAYS = (State("delta_ring", lambda s: (DELTA_WIDTH, len(L.DELTA_OF))),)  # the last DELTA_WIDTH values of each


@kernel
def hop(vec, seen, delta_ring):
    """The slopes of ``vec[DELTA_OF]`` (already computed) into ``vec[DELTAS:]``."""
    # causal width-5 slope: (-2 x[t-4] - x[t-3] + x[t-1] + 2 x[t]) / 10, history padded with the first value
    depth = delta_ring.shape[0]  # DELTA_WIDTH = 5: slots newest, newest-1, ..., newest-4 (= newest+1)
    for j in range(len(L.DELTA_OF)):
        v = vec[L.DELTA_OF[j]]
        if seen == 0:
            for r in range(depth):
                delta_ring[r, j] = v
        else:
            delta_ring[seen % depth, j] = v
        newest = seen % depth
        # exactly 0 for a constant (paired differences, not a weighted sum)
        s = 2.0 * (delta_ring[newest, j] - delta_ring[(newest + 1) % depth, j])
        s += delta_ring[(newest + depth - 1) % depth, j] - delta_ring[(newest + 2) % depth, j]
        vec[L.DELTAS + j] = s / 10.0
