"""Window loading and the power spectrum (nopython kernels, inference thread).

``load_window`` sanitises the float32 input into float64 (NaN and +/-Inf
become 0 and are counted); ``spectrum`` applies the window and runs a real FFT
through rocket-fft's low-level ``r2c``, which writes into a preallocated
array. Nothing allocates.
"""

from __future__ import annotations

import math

import numpy as np
from rocket_fft import r2c

from . import group, tables
from .group import Table, Work, helper, kernel

SLOTS = ()  # the frame and its spectrum, which the other groups read
ARRAYS = (
    Table("window", lambda s: tables.hann(s.window)),
    Work("frame", lambda s: s.window),  # the input as float64, then scaled to the level reference
    Work("windowed", lambda s: s.window),
    Work("spec", lambda s: s.bins, np.complex128),
    Work("axes", lambda s: 1, np.int64),  # rocket-fft's axis argument: 0
    Work("mag", lambda s: s.bins),
    Work("power", lambda s: s.bins),
)
FRAME = group.index(ARRAYS, "frame")
MAG = group.index(ARRAYS, "mag")
POWER = group.index(ARRAYS, "power")


@helper
def load_window(x, frame):
    """Copy ``x`` into float64 ``frame``, replacing non-finite samples by 0; return how many there were."""
    bad = 0
    for i in range(frame.shape[0]):
        v = np.float64(x[i])
        if not math.isfinite(v):
            bad += 1
            v = 0.0
        frame[i] = v
    return bad


@helper
def spectrum(frame, window, windowed, spec, axes, mag, power):
    """``spec`` = rfft(frame * window); ``mag`` = |spec|, ``power`` = |spec|**2 (no scaling: librosa's)."""
    for i in range(frame.shape[0]):
        windowed[i] = frame[i] * window[i]
    r2c(windowed, spec, axes, True, 1.0, 1)
    for k in range(spec.shape[0]):
        re = spec[k].real
        im = spec[k].imag
        p = re * re + im * im
        power[k] = p
        mag[k] = math.sqrt(p)


@kernel
def hop(window, frame, windowed, spec, axes, mag, power):
    """The spectrum of ``frame`` (loaded by ``load_window``, scaled by ``level.hop``) into ``mag`` and ``power``."""
    spectrum(frame, window, windowed, spec, axes, mag, power)
