"""Constant tables of the extractor, built once in numpy (not real-time code).

Each follows the librosa default it is compared with in the tests:
periodic Hann window, Slaney mel scale with Slaney (area) normalisation,
orthonormal DCT-II, librosa's STFT chroma filterbank (tuning 0, centre octave
5, octave width 2, L2-normalised columns, C first), librosa's spectral
contrast bands (fmin 200 Hz, 6 octaves, quantile 0.02) and Krumhansl-Kessler
key profiles. All float64.
"""

from __future__ import annotations

import numpy as np

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

_F_SP = 200.0 / 3  # Slaney: linear part, Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (the DFT-even one STFTs use)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def fft_frequencies(sample_rate: float, n_fft: int) -> np.ndarray:
    """Centre frequency in Hz of each of the ``n_fft // 2 + 1`` rfft bins."""
    return np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's auditory toolbox mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    return np.where(f < _MIN_LOG_HZ, f / _F_SP, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m < _MIN_LOG_MEL, m * _F_SP, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)))


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft//2+1) triangles between 0 Hz and Nyquist, each scaled to unit area in Hz (Slaney)."""
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))
    freqs = fft_frequencies(sample_rate, n_fft)
    widths = np.diff(edges)
    fb = np.zeros((n_mels, freqs.size))
    for b in range(n_mels):
        rising = (freqs - edges[b]) / widths[b]
        falling = (edges[b + 2] - freqs) / widths[b + 1]
        fb[b] = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (edges[b + 2] - edges[b]))
    return fb


def sparse_rows(fb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, stop, weights) of each row's non-zero span; row b's weights are ``weights[b, :stop-start]``."""
    rows, _ = fb.shape
    start = np.zeros(rows, dtype=np.int64)
    stop = np.zeros(rows, dtype=np.int64)
    for b in range(rows):
        nz = np.flatnonzero(fb[b])
        if nz.size:
            start[b], stop[b] = nz[0], nz[-1] + 1
    width = int(max(1, (stop - start).max()))
    weights = np.zeros((rows, width))
    for b in range(rows):
        weights[b, : stop[b] - start[b]] = fb[b, start[b] : stop[b]]
    return start, stop, weights


def dct_ortho(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) orthonormal DCT-II matrix (scipy's ``dct(type=2, norm='ortho')``)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m


def chroma_filterbank(sample_rate: float, n_fft: int, n_chroma: int = 12) -> np.ndarray:
    """(n_chroma, n_fft//2+1) STFT chroma weights with librosa's semantics (tuning 0, C first).

    Each FFT bin is placed on a continuous pitch-class axis (A440 reference);
    every chroma bin gets a Gaussian bump as wide as the bin's spacing in
    chroma units (at least one), columns are L2-normalised, then weighted by a
    Gaussian over octaves centred on octave 5 with a width of 2 octaves.
    """
    bins = np.arange(1, n_fft) * (sample_rate / n_fft)  # full FFT length, without DC
    pitch = n_chroma * np.log2(bins / (440.0 / 16.0))
    pitch = np.concatenate(([pitch[0] - 1.5 * n_chroma], pitch))  # DC: 1.5 octaves below bin 1
    width = np.concatenate((np.maximum(np.diff(pitch), 1.0), [1.0]))
    half = np.round(n_chroma / 2.0)
    dist = pitch[None, :] - np.arange(n_chroma)[:, None]
    dist = np.remainder(dist + half + 10 * n_chroma, n_chroma) - half
    w = np.exp(-0.5 * (2.0 * dist / width[None, :]) ** 2)
    norm = np.sqrt((w * w).sum(axis=0, keepdims=True))
    w = w / np.where(norm < np.finfo(np.float64).tiny, 1.0, norm)
    w *= np.exp(-0.5 * ((pitch / n_chroma - 5.0) / 2.0) ** 2)[None, :]
    w = np.roll(w, -3 * (n_chroma // 12), axis=0)  # A-based to C-based
    return np.ascontiguousarray(w[:, : n_fft // 2 + 1])


def contrast_bands(
    sample_rate: float, n_fft: int, n_bands: int = 6, fmin: float = 200.0, quantile: float = 0.02
) -> np.ndarray:
    """(n_bands+1, 3) int rows (first bin, stop bin, n_quantile) with librosa's spectral_contrast bands.

    Band 0 is 0..fmin, band k doubles up to fmin*2**k; each band from the
    second on also takes the bin just below it, the last takes everything up to
    Nyquist, and all but the last drop their top bin (the next band's first).
    ``n_quantile`` (bins averaged for peak and valley) is counted before that
    drop, as librosa does. Where librosa refuses (a band starting above
    Nyquist, at rates under 12.8 kHz) or a band holds no bin (very short
    windows), the band is left empty (first == stop) and its contrast is 0.
    """
    freqs = fft_frequencies(sample_rate, n_fft)
    edges = np.zeros(n_bands + 2)
    edges[1:] = fmin * 2.0 ** np.arange(n_bands + 1)
    out = np.zeros((n_bands + 1, 3), dtype=np.int64)
    for k in range(n_bands + 1):
        idx = np.flatnonzero((freqs >= edges[k]) & (freqs <= edges[k + 1]))
        if edges[k] >= 0.5 * sample_rate:
            idx = idx[:0]
        if idx.size == 0:
            pos = int(np.searchsorted(freqs, edges[k]))
            out[k] = pos, pos, 1
            continue
        lo = idx[0] - 1 if k > 0 else idx[0]
        hi = freqs.size if k == n_bands else idx[-1] + 1
        count = hi - lo
        if k < n_bands:
            hi -= 1
        out[k] = lo, hi, max(1, int(np.rint(quantile * count)))
    return out


def key_profiles() -> np.ndarray:
    """(24, 12) z-scored KK profiles: rows 0..11 major keys on C..B, 12..23 minor keys."""
    rows = []
    for prof in (KK_MAJOR, KK_MINOR):
        z = (prof - prof.mean()) / prof.std()
        rows += [np.roll(z, tonic) for tonic in range(12)]
    return np.array(rows)


def tempo_lags(frames_per_second: float, history: int, bpm_min: float = 40.0, bpm_max: float = 240.0):
    """(lags, prior): the autocorrelation lags in hops for bpm_max..bpm_min and a log-normal prior.

    The prior (centred on 120 BPM, one octave wide, as librosa's tempo) favours
    the usual beat level over its halves and doubles.
    """
    lo = max(1, int(np.floor(frames_per_second * 60.0 / bpm_max)))
    hi = max(lo + 1, min(history // 2, int(np.ceil(frames_per_second * 60.0 / bpm_min))))
    lags = np.arange(lo, hi + 1, dtype=np.int64)
    bpm = 60.0 * frames_per_second / lags
    prior = np.exp(-0.5 * np.log2(bpm / 120.0) ** 2)
    return lags, prior
