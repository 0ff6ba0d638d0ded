"""Mel band energies, their log in dB and the MFCCs (nopython kernels, inference thread).

Semantics of librosa's ``melspectrogram`` (power 2), ``power_to_db`` (ref 1,
amin 1e-10, top_db 80 relative to the frame's loudest band) and ``mfcc``
(orthonormal DCT-II of those dB values), per frame.
"""

from __future__ import annotations

import math

import numba


@numba.njit(nogil=True, cache=True)
def mel_bands(power, start, stop, weights, mel):
    """``mel[b]`` = sum of ``power`` over band b's span, weighted (the sparse rows of the filterbank)."""
    for b in range(mel.shape[0]):
        acc = 0.0
        lo = start[b]
        for k in range(lo, stop[b]):
            acc += weights[b, k - lo] * power[k]
        mel[b] = acc


@numba.njit(nogil=True, cache=True)
def power_to_db(src, dst, amin, top_db):
    """``dst`` = 10 log10(max(amin, src)), floored at top_db below its own maximum (top_db <= 0: no floor)."""
    top = -math.inf
    for i in range(src.shape[0]):
        v = 10.0 * math.log10(max(amin, src[i]))
        dst[i] = v
        if v > top:
            top = v
    if top_db > 0.0:
        floor = top - top_db
        for i in range(dst.shape[0]):
            if dst[i] < floor:
                dst[i] = floor


@numba.njit(nogil=True, cache=True)
def dct(x, matrix, out):
    """``out`` = ``matrix`` @ ``x`` (the first rows of an orthonormal DCT-II)."""
    rows, cols = matrix.shape
    for r in range(rows):
        acc = 0.0
        for c in range(cols):
            acc += matrix[r, c] * x[c]
        out[r] = acc
