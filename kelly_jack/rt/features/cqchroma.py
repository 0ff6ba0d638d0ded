"""Constant-Q-style chroma from a decimated history of the stream (nopython kernels, inference thread).

The window the extractor is given (2048 samples at 48 kHz: 23 Hz bins) is too
short to tell semitones apart below about C5. These kernels keep their own
history instead: each hop's new samples go through an anti-alias FIR into a
ring at about 6 kHz (``tables.cq_decimation``); the newest ``cq_window_size``
samples of that ring (0.68 s at 48 kHz: 1.5 Hz bins) get a Hann window and an
FFT, semitone bands (``tables.cq_filterbank``, C1..B6) sum the power, and the
square roots of the bands fold into 12 pitch classes (librosa's
``chroma_cqt``: magnitudes summed per class, divided by the frame's maximum).
Nothing allocates.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from rocket_fft import r2c

from . import layout as L
from . import tables
from .group import Setting, State, Table, Work, ceil_pow2, helper, kernel

# int state
CQ_IN = 0  # input samples pushed since reset
CQ_OUT = 1  # decimated samples written since reset
CQ_ISTATE = 2


@functools.cache
def decimation(sample_rate: float) -> tuple[int, np.ndarray]:
    """(factor, anti-alias FIR) of the decimated stream (``tables.cq_decimation``, built once per rate)."""
    return tables.cq_decimation(sample_rate)


def window_size(s: Setting) -> int:
    """Samples of the decimated stream in the long window."""
    return tables.cq_window_size(s.sample_rate / decimation(s.sample_rate)[0])


@functools.cache
def _bank(sample_rate: float):
    factor = decimation(sample_rate)[0]
    n = tables.cq_window_size(sample_rate / factor)
    return tables.cq_filterbank(sample_rate / factor, n)


def _bank_part(part: int):
    return lambda s: _bank(s.sample_rate)[part]


SLOTS = tuple(range(L.CHROMA, L.CHROMA + L.N_CHROMA))
ARRAYS = (
    Table("cq_fir", lambda s: decimation(s.sample_rate)[1]),
    Table("cq_step", lambda s: np.array([s.hop, decimation(s.sample_rate)[0]], dtype=np.float64)),  # (hop, factor)
    Table("cq_window", lambda s: tables.hann(window_size(s))),
    Table("cq_start", _bank_part(0)),  # the semitone bands: first bin, stop bin, weights, pitch class
    Table("cq_stop", _bank_part(1)),
    Table("cq_weights", _bank_part(2)),
    Table("cq_class", _bank_part(3)),
    Work("cq_windowed", window_size),
    Work("cq_spec", lambda s: window_size(s) // 2 + 1, np.complex128),
    Work("cq_axes", lambda s: 1, np.int64),
    Work("cq_power", lambda s: window_size(s) // 2 + 1),
    State("cq_tail", lambda s: ceil_pow2(len(decimation(s.sample_rate)[1]) + 1)),  # the newest input samples
    State("cq_ring", window_size),  # the decimated stream
    State("cq_istate", lambda s: CQ_ISTATE, np.int64),  # CQ_IN, CQ_OUT
)


@helper
def push_samples(frame, n_new, fir, factor, tail, ring, istate):
    """Run the last ``n_new`` samples of ``frame`` through the decimator into ``ring``.

    ``tail`` (a power-of-two size >= len(fir)) keeps the newest input samples;
    every ``factor``-th input sample an FIR output goes into ``ring`` (a
    power-of-two size), so the ring holds the stream low-passed and decimated.
    """
    n = frame.shape[0]
    n_new = min(n_new, n)
    taps = fir.shape[0]
    tmask = tail.shape[0] - 1
    rmask = ring.shape[0] - 1
    pos = istate[CQ_IN]
    out = istate[CQ_OUT]
    for i in range(n - n_new, n):
        tail[pos & tmask] = frame[i]
        pos += 1
        if pos % factor:
            continue
        acc = 0.0
        first = i - taps + 1
        if first >= 0:  # the FIR's inputs are all in this frame: read them there, contiguous
            for j in range(taps):
                acc += fir[j] * frame[first + j]  # the FIR is symmetric
        else:
            for j in range(taps):
                acc += fir[j] * tail[(pos - 1 - j) & tmask]
        ring[out & rmask] = acc
        out += 1
    istate[CQ_IN] = pos
    istate[CQ_OUT] = out


@helper
def cq_chroma(ring, istate, window, windowed, spec, axes, power, start, stop, weights, pitch_class, out):
    """Chroma (12, C first, max-normalised; 0 for silence) of the newest len(window) samples of ``ring``."""
    n = window.shape[0]
    rmask = ring.shape[0] - 1
    first = istate[CQ_OUT] - n
    for i in range(n):
        windowed[i] = ring[(first + i) & rmask] * window[i]
    r2c(windowed, spec, axes, True, 1.0, 1)
    for k in range(spec.shape[0]):
        re = spec[k].real
        im = spec[k].imag
        power[k] = re * re + im * im
    for c in range(12):
        out[c] = 0.0
    for b in range(start.shape[0]):
        acc = 0.0
        lo = start[b]
        for k in range(lo, stop[b]):
            acc += weights[b, k - lo] * power[k]
        out[pitch_class[b]] += math.sqrt(acc)
    top = 0.0
    for c in range(12):
        top = max(top, out[c])
    if top >= 1e-150:
        for c in range(12):
            out[c] /= top
    else:
        for c in range(12):
            out[c] = 0.0


@kernel
def hop(
    frame,
    seen,
    vec,
    cq_fir,
    cq_step,
    cq_window,
    cq_start,
    cq_stop,
    cq_weights,
    cq_class,
    cq_windowed,
    cq_spec,
    cq_axes,
    cq_power,
    cq_tail,
    cq_ring,
    cq_istate,
):
    """This hop's new samples (all of the first frame) join the decimated history; its chroma into ``vec``."""
    step = cq_step[0]
    if seen == 0:
        n_new = frame.shape[0]
    else:
        n_new = int(round(seen * step)) - int(round((seen - 1) * step))  # a fractional hop (resampled) stays on time
    push_samples(frame, n_new, cq_fir, int(cq_step[1]), cq_tail, cq_ring, cq_istate)
    cq_chroma(
        cq_ring,
        cq_istate,
        cq_window,
        cq_windowed,
        cq_spec,
        cq_axes,
        cq_power,
        cq_start,
        cq_stop,
        cq_weights,
        cq_class,
        vec[L.CHROMA : L.CHROMA + L.N_CHROMA],
    )
