"""Window loading and the power spectrum (nopython kernels, inference thread).

``load_window`` sanitises the float32 input into float64 (NaN and +/-Inf
become 0 and are counted); ``spectrum`` applies the window and runs a real FFT
through rocket-fft's low-level ``r2c``, which writes into a preallocated
array. Nothing allocates.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from rocket_fft import r2c


@numba.njit(nogil=True, cache=True)
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


@numba.njit(nogil=True, cache=True)
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
