"""Mel band energies, their log in dB and the MFCCs (nopython kernels, inference thread).

Semantics of librosa's ``melspectrogram`` (power 2), ``power_to_db`` (ref 1,
amin 1e-10, top_db 80 relative to the frame's loudest band) and ``mfcc``
(orthonormal DCT-II of those dB values), per frame.
"""

from __future__ import annotations

import functools
import math

from . import layout as L
from . import tables
from .group import Table, Work, helper, kernel

TOP_DB = 80.0
AMIN = 1e-10


@functools.cache
def _bank(sample_rate: float, window: int):
    return tables.sparse_rows(tables.mel_filterbank(sample_rate, window, L.N_MELS))


def _mel(part: int):
    return lambda s: _bank(s.sample_rate, s.window)[part]


SLOTS = (*range(L.MEL, L.MEL + L.N_MELS), *range(L.MFCC, L.MFCC + L.N_MFCC))
ARRAYS = (
    Table("mel_start", _mel(0)),  # the filterbank's sparse rows: first bin, stop bin, weights
    Table("mel_stop", _mel(1)),
    Table("mel_weights", _mel(2)),
    Table("dct_matrix", lambda s: tables.dct_ortho(L.N_MFCC, L.N_MELS)),
    Work("mel", lambda s: L.N_MELS),  # the band powers before dB
)


@helper
def mel_bands(power, start, stop, weights, mel):
    """``mel[b]`` = sum of ``power`` over band b's span, weighted (the sparse rows of the filterbank)."""
    for b in range(mel.shape[0]):
        acc = 0.0
        lo = start[b]
        for k in range(lo, stop[b]):
            acc += weights[b, k - lo] * power[k]
        mel[b] = acc


@helper
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


@helper
def dct(x, matrix, out):
    """``out`` = ``matrix`` @ ``x`` (the first rows of an orthonormal DCT-II)."""
    rows, cols = matrix.shape
    for r in range(rows):
        acc = 0.0
        for c in range(cols):
            acc += matrix[r, c] * x[c]
        out[r] = acc


@kernel
def hop(power, vec, mel_start, mel_stop, mel_weights, dct_matrix, mel):
    """The log-mel bands and the MFCCs of the power spectrum ``power`` into ``vec``."""
    logmel = vec[L.MEL : L.MEL + L.N_MELS]
    mel_bands(power, mel_start, mel_stop, mel_weights, mel)
    power_to_db(mel, logmel, AMIN, TOP_DB)
    dct(logmel, dct_matrix, vec[L.MFCC : L.MFCC + L.N_MFCC])
