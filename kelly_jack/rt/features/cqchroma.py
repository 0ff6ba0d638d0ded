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

import math

import numba
from rocket_fft import r2c

# int state
CQ_IN = 0  # input samples pushed since reset
CQ_OUT = 1  # decimated samples written since reset
CQ_ISTATE = 2


@numba.njit(nogil=True, cache=True)
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


@numba.njit(nogil=True, cache=True)
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
