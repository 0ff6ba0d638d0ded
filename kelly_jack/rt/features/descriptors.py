"""Spectral and time-domain descriptors of one frame (nopython kernels, inference thread).

Where librosa has the feature, the kernel follows its definition on the same
frame: ``rms`` on the samples, the centroid on the magnitude spectrum
normalised to unit sum, flatness on the power spectrum (amin 1e-10), and
``spectral_contrast`` (magnitudes, octave bands, 2 % quantiles, dB per frame).
"""

from __future__ import annotations

import math

from . import layout as L
from . import tables
from .group import State, Table, Work, helper, kernel

_TINY = 2.2250738585072014e-308


@helper
def time_stats(frame):
    """(rms, peak) of the samples."""
    n = frame.shape[0]
    sq = 0.0
    peak = 0.0
    for i in range(n):
        x = frame[i]
        sq += x * x
        if abs(x) > peak:
            peak = abs(x)
    return math.sqrt(sq / n), peak


@helper
def spectral_shape(mag, power, freqs):
    """(centroid Hz, flatness) of one frame."""
    n = mag.shape[0]
    total = 0.0
    for k in range(n):
        total += mag[k]
    scale = 1.0 / total if total >= _TINY else 1.0
    centroid = 0.0
    for k in range(n):
        centroid += freqs[k] * (mag[k] * scale)
    log_sum = 0.0
    lin_sum = 0.0
    for k in range(n):
        p = max(1e-10, power[k])
        log_sum += math.log(p)
        lin_sum += p
    flatness = math.exp(log_sum / n) / (lin_sum / n)
    return centroid, flatness


@helper
def flux(mag, prev_unit, have_prev):
    """L2 distance between this frame's unit-L2 magnitude spectrum and the previous one (0..sqrt 2).

    ``prev_unit`` holds the previous unit spectrum (zeros for silence) and is
    updated to this frame's; without a previous frame the flux is 0.
    """
    sq = 0.0
    for k in range(mag.shape[0]):
        sq += mag[k] * mag[k]
    norm = math.sqrt(sq)
    inv = 1.0 / norm if norm > 1e-150 else 0.0
    dist = 0.0
    for k in range(mag.shape[0]):
        u = mag[k] * inv
        d = u - prev_unit[k]
        dist += d * d
        prev_unit[k] = u
    return math.sqrt(dist) if have_prev else 0.0


@helper
def _extremes_mean(mag, lo, hi, count, low, high):
    """(mean of the ``count`` smallest, mean of the ``count`` largest) of mag[lo:hi].

    Two small insertion buffers (``low`` ascending, ``high`` descending) hold
    the current extremes: no sort of the whole band, no allocation.
    """
    m = 0
    for k in range(lo, hi):
        v = mag[k]
        if m < count:
            i = m
            while i > 0 and low[i - 1] > v:
                low[i] = low[i - 1]
                i -= 1
            low[i] = v
            i = m
            while i > 0 and high[i - 1] < v:
                high[i] = high[i - 1]
                i -= 1
            high[i] = v
            m += 1
            continue
        if v < low[count - 1]:
            i = count - 1
            while i > 0 and low[i - 1] > v:
                low[i] = low[i - 1]
                i -= 1
            low[i] = v
        if v > high[count - 1]:
            i = count - 1
            while i > 0 and high[i - 1] < v:
                high[i] = high[i - 1]
                i -= 1
            high[i] = v
    if m == 0:
        return 0.0, 0.0
    a = 0.0
    b = 0.0
    for i in range(m):
        a += low[i]
        b += high[i]
    return a / m, b / m


@helper
def contrast(mag, bands, low, high, peak_db, valley_db, out):
    """librosa ``spectral_contrast`` of one frame: dB(peak) - dB(valley) per band.

    ``bands`` rows are (first bin, stop bin, n_quantile) from
    ``tables.contrast_bands``; dB is ``power_to_db`` of the magnitudes (amin
    1e-10, each of the peak and valley vectors floored 80 dB below its own max).
    """
    n = bands.shape[0]
    top_p = -math.inf
    top_v = -math.inf
    for b in range(n):
        valley, peak = _extremes_mean(mag, bands[b, 0], bands[b, 1], bands[b, 2], low, high)
        peak_db[b] = 10.0 * math.log10(max(1e-10, peak))
        valley_db[b] = 10.0 * math.log10(max(1e-10, valley))
        top_p = max(top_p, peak_db[b])
        top_v = max(top_v, valley_db[b])
    for b in range(n):
        out[b] = max(peak_db[b], top_p - 80.0) - max(valley_db[b], top_v - 80.0)
        if bands[b, 1] <= bands[b, 0]:
            out[b] = 0.0  # a band with no bin (very short windows)


SLOTS = (L.CENTROID, L.FLATNESS, L.FLUX, L.CREST_DB, *range(L.CONTRAST, L.CONTRAST + L.N_CONTRAST))
# the rows of the contrast's work space: the band's smallest and largest magnitudes, the peaks and valleys in dB
LOW, HIGH, PEAK_DB, VALLEY_DB = range(4)


def _contrast_width(s) -> int:
    return max(L.N_CONTRAST, int(tables.contrast_bands(s.sample_rate, s.window)[:, 2].max()))


ARRAYS = (
    Table("freqs", lambda s: tables.fft_frequencies(s.sample_rate, s.window)),
    Table("bands", lambda s: tables.contrast_bands(s.sample_rate, s.window)),  # (first bin, stop bin, quantile)
    Work("contrast_work", lambda s: (4, _contrast_width(s))),  # rows LOW, HIGH, PEAK_DB, VALLEY_DB
    State("prev_unit", lambda s: s.bins),  # the previous frame's unit magnitude spectrum (flux)
)


@kernel
def hop(vec, seen, rms, peak, mag, power, freqs, bands, contrast_work, prev_unit):
    """Centroid, flatness, flux, crest and spectral contrast into ``vec`` (``rms``, ``peak``: the scaled frame's)."""
    centroid, flatness = spectral_shape(mag, power, freqs)
    vec[L.CENTROID] = centroid
    vec[L.FLATNESS] = flatness
    vec[L.FLUX] = flux(mag, prev_unit, seen > 0)
    vec[L.CREST_DB] = 20.0 * math.log10(peak / rms) if rms > 1e-10 else 0.0
    w = contrast_work
    n = L.N_CONTRAST
    contrast(mag, bands, w[LOW], w[HIGH], w[PEAK_DB, :n], w[VALLEY_DB, :n], vec[L.CONTRAST : L.CONTRAST + n])
