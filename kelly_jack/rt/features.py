"""Placeholder 128-float feature kernel (layout version 0).

This is the real-time core's stand-in until the full extractor (log-mel, MFCC,
chroma, spectral descriptors) replaces it; the layout version tells models
which one they were trained on. Layout 0:

====== ======================================================
index  meaning
====== ======================================================
0      RMS of the window (linear, 0..1 for normal audio)
1      peak absolute sample
2      zero-crossing rate (crossings per sample, 0..1)
3      mean (DC offset)
4..127 RMS of 124 equal consecutive sub-blocks (an envelope)
====== ======================================================

Non-finite input samples are treated as 0 and counted, so the output is always
finite. Nopython, no allocation; runs on the inference thread.
"""

from __future__ import annotations

import math

import numba
import numpy as np

FEATURE_SIZE = 128
LAYOUT_VERSION = 0
_ENVELOPE_START = 4


@numba.njit(nogil=True, cache=True)
def compute_features(window, out):
    """Fill ``out[:128]`` from the mono ``window``; return the count of non-finite samples."""
    n = window.shape[0]
    bad = 0
    sq = 0.0
    peak = 0.0
    total = 0.0
    crossings = 0
    prev = 0.0
    for i in range(n):
        x = window[i]
        if not np.isfinite(x):
            bad += 1
            x = 0.0
        sq += x * x
        ax = abs(x)
        if ax > peak:
            peak = ax
        total += x
        if i > 0 and (x >= 0.0) != (prev >= 0.0):
            crossings += 1
        prev = x
    out[:] = 0.0
    if n == 0:
        return bad
    out[0] = math.sqrt(sq / n)
    out[1] = peak
    out[2] = crossings / max(n - 1, 1)
    out[3] = total / n
    blocks = FEATURE_SIZE - _ENVELOPE_START
    for b in range(blocks):
        lo = b * n // blocks
        hi = (b + 1) * n // blocks
        acc = 0.0
        for i in range(lo, hi):
            x = window[i]
            if np.isfinite(x):
                acc += x * x
        if hi > lo:
            out[_ENVELOPE_START + b] = math.sqrt(acc / (hi - lo))
    return bad


@numba.njit(nogil=True, cache=True)
def mix_to_mono(data, position, n, channel, out):
    """Mix ``n`` frames at absolute ring ``position`` of the (channels, capacity) ring into ``out``.

    ``channel < 0`` averages all channels; otherwise that channel is copied.
    """
    channels, capacity = data.shape
    mask = capacity - 1
    for i in range(n):
        j = (position + i) & mask
        if channel >= 0:
            out[i] = data[channel, j]
        else:
            acc = 0.0
            for c in range(channels):
                acc += data[c, j]
            out[i] = acc / channels
