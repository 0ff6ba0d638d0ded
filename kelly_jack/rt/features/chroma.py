"""Key and mode from accumulated chroma and Krumhansl-Kessler profiles (nopython kernels, inference thread).

The chroma itself is ``cqchroma.py``'s; this group keeps the last ``KEY_S`` of
it and reads the key of their mean.
"""

from __future__ import annotations

import math

from . import layout as L
from . import tables
from .group import State, Table, Work, helper, kernel

KEY_S = 8.0  # the key reads the mean chroma of the last 8 s

SLOTS = (L.KEY_CLARITY, L.MAJOR_STRENGTH, L.MINOR_STRENGTH, L.KEY_MODE, L.TONIC_THIRD)  # key_strengths' order
assert SLOTS == tuple(range(L.KEY_CLARITY, L.KEY_CLARITY + 5))
ARRAYS = (
    Table("profiles", lambda s: tables.key_profiles()),  # the 24 z-scored Krumhansl-Kessler profiles
    Work("mean", lambda s: L.N_CHROMA),  # the mean chroma
    State("chroma_ring", lambda s: (s.hops(KEY_S), L.N_CHROMA)),  # past chroma frames
    State("chroma_sum", lambda s: L.N_CHROMA),  # their sum
)


@helper
def push_chroma(history, total, position, frame):
    """Write ``frame`` into row ``position % rows`` of the (rows, 12) ring ``history``, keeping ``total`` its sum.

    The running sum is rebuilt from the ring whenever the write position wraps,
    so rounding cannot drift.
    """
    rows, n = history.shape
    row = position % rows
    for c in range(n):
        total[c] += frame[c] - history[row, c]
        history[row, c] = frame[c]
    if row == rows - 1:
        for c in range(n):
            acc = 0.0
            for r in range(rows):
                acc += history[r, c]
            total[c] = acc


@helper
def key_strengths(chroma_mean, profiles, out):
    """Key and mode of ``chroma_mean`` (12, C first) against the 24 z-scored key profiles.

    ``profiles`` rows 0..11 are the major keys on C..B, 12..23 the minor keys.
    Writes ``out[:5]``: clarity (the best Pearson correlation of all 24),
    major and minor strength (the best of each mode), the key-relative mode
    (major minus minor profile correlation, both on the tonic of the best
    key: the same tonic, so the two differ in their thirds, sixths and
    sevenths), and the tonic's third ((major third - minor third) / their
    sum, of the mean chroma, on that tonic). All in -1..1 (mode -2..2); a
    flat or empty chroma gives zeros.
    """
    n = chroma_mean.shape[0]
    for i in range(5):
        out[i] = 0.0
    mu = 0.0
    for c in range(n):
        mu += chroma_mean[c]
    mu /= n
    var = 0.0
    for c in range(n):
        var += (chroma_mean[c] - mu) ** 2
    sd = math.sqrt(var / n)
    if sd < 1e-9:
        return
    best_major = -1.0
    best_minor = -1.0
    best = -2.0
    best_k = 0
    for k in range(profiles.shape[0]):
        acc = 0.0
        for c in range(n):
            acc += profiles[k, c] * (chroma_mean[c] - mu)
        r = acc / (n * sd)
        if k < 12:
            best_major = max(best_major, r)
        else:
            best_minor = max(best_minor, r)
        if r > best:
            best = r
            best_k = k
    tonic = best_k % 12
    r_major = 0.0
    r_minor = 0.0
    for c in range(n):
        r_major += profiles[tonic, c] * (chroma_mean[c] - mu)
        r_minor += profiles[12 + tonic, c] * (chroma_mean[c] - mu)
    out[0] = best
    out[1] = best_major
    out[2] = best_minor
    out[3] = (r_major - r_minor) / (n * sd)
    major3 = chroma_mean[(tonic + 4) % 12]
    minor3 = chroma_mean[(tonic + 3) % 12]
    if major3 + minor3 > 1e-9:
        out[4] = (major3 - minor3) / (major3 + minor3)


@kernel
def hop(vec, seen, profiles, mean, chroma_ring, chroma_sum):
    """Key and mode of the mean chroma of the last ``KEY_S`` (this hop's chroma already in ``vec``) into ``vec``."""
    push_chroma(chroma_ring, chroma_sum, seen, vec[L.CHROMA : L.CHROMA + L.N_CHROMA])
    filled = min(seen + 1, chroma_ring.shape[0])
    for c in range(L.N_CHROMA):
        mean[c] = chroma_sum[c] / filled
    key_strengths(mean, profiles, vec[L.KEY_CLARITY : L.TONIC_THIRD + 1])
