"""STFT chroma and key strength from Krumhansl-Kessler profiles (nopython kernels, inference thread)."""

from __future__ import annotations

import math

import numba

_TINY = 2.2250738585072014e-308  # float64's smallest normal, librosa's normalisation threshold


@numba.njit(nogil=True, cache=True)
def chroma(power, fb, out):
    """librosa ``chroma_stft`` of one frame: ``fb`` @ ``power``, divided by its maximum (if not ~0)."""
    n_chroma, n_bins = fb.shape
    top = 0.0
    for c in range(n_chroma):
        acc = 0.0
        for k in range(n_bins):
            acc += fb[c, k] * power[k]
        out[c] = acc
        if abs(acc) > top:
            top = abs(acc)
    if top >= _TINY:
        for c in range(n_chroma):
            out[c] /= top


@numba.njit(nogil=True, cache=True)
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


@numba.njit(nogil=True, cache=True)
def key_strengths(chroma_mean, profiles):
    """(clarity, major, minor): Pearson correlations of ``chroma_mean`` (12, modified) with key profiles.

    ``profiles`` are the 24 z-scored key profiles (12 major, then 12 minor);
    clarity is the best of all 24, major and minor the best of each mode, each in
    -1..1. A flat or empty chroma gives zeros.
    """
    n = chroma_mean.shape[0]
    mu = 0.0
    for c in range(n):
        mu += chroma_mean[c]
    mu /= n
    var = 0.0
    for c in range(n):
        chroma_mean[c] -= mu
        var += chroma_mean[c] * chroma_mean[c]
    sd = math.sqrt(var / n)
    if sd < 1e-9:
        return 0.0, 0.0, 0.0
    best_major = -1.0
    best_minor = -1.0
    for k in range(profiles.shape[0]):
        acc = 0.0
        for c in range(n):
            acc += profiles[k, c] * chroma_mean[c]
        r = acc / (n * sd)
        if k < 12:
            best_major = max(best_major, r)
        else:
            best_minor = max(best_minor, r)
    return max(best_major, best_minor), best_major, best_minor
