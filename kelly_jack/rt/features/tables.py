"""Constant tables of the extractor, built once in numpy (not real-time code).

Each follows the librosa default it is compared with in the tests:
periodic Hann window, Slaney mel scale with Slaney (area) normalisation,
orthonormal DCT-II, librosa's spectral contrast bands (fmin 200 Hz, 6
octaves, quantile 0.02) and Krumhansl-Kessler key profiles; and the
constant-Q chroma's decimation filter and semitone bands (compared with
librosa's ``chroma_cqt``). All float64.
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


def tempo_lags(frames_per_second: float, history: int, bpm_min: float = 40.0, bpm_max: float = 240.0) -> np.ndarray:
    """The whole autocorrelation lags in rhythm frames for bpm_max..bpm_min (the tempogram's and the tempo's range)."""
    lo = max(1, int(np.floor(frames_per_second * 60.0 / bpm_max)))
    hi = max(lo + 1, min(history // 2, int(np.ceil(frames_per_second * 60.0 / bpm_min))))
    return np.arange(lo, hi + 1, dtype=np.int64)


TEMPO_GRID_PER_OCTAVE = 48


def tempo_grid(
    frames_per_second: float, bpm_min: float = 40.0, bpm_max: float = 240.0
) -> tuple[np.ndarray, np.ndarray]:
    """(periods, prior): the tempo candidates as fractional periods in rhythm frames, and their prior.

    The candidates are TEMPO_GRID_PER_OCTAVE per octave from bpm_max down to
    bpm_min (periods increasing); the prior is log-normal around 120 BPM, one
    octave wide (librosa's ``tempo`` default), a generic preference for the
    usual beat level over its halves and doubles.
    """
    steps = int(np.floor(np.log2(bpm_max / bpm_min) * TEMPO_GRID_PER_OCTAVE + 1e-9))
    bpm = bpm_max * 2.0 ** (-np.arange(steps + 1) / TEMPO_GRID_PER_OCTAVE)
    prior = np.exp(-0.5 * np.log2(bpm / 120.0) ** 2)
    return 60.0 * frames_per_second / bpm, prior


def tempogram_bands(frames_per_second: float, edges_bpm) -> tuple[np.ndarray, np.ndarray]:
    """(first lag, last lag) in rhythm frames of each tempo band between consecutive ``edges_bpm``.

    A band holds the whole lags whose tempo lies within its edges; a band
    narrower than one lag (short histories at low frame rates) gets the lag
    nearest its centre.
    """
    edges = np.asarray(edges_bpm, dtype=np.float64)
    lo = np.ceil(60.0 * frames_per_second / edges[1:]).astype(np.int64)
    hi = np.floor(60.0 * frames_per_second / edges[:-1]).astype(np.int64)
    centre = np.rint(60.0 * frames_per_second / np.sqrt(edges[1:] * edges[:-1])).astype(np.int64)
    empty = hi < lo
    lo[empty] = centre[empty]
    hi[empty] = centre[empty]
    return np.maximum(lo, 1), np.maximum(hi, 1)


# constant-Q chroma: a decimated copy of the stream, a long FFT of it, semitone bands
CQ_RATE = 6000.0  # Hz the stream is decimated to (about): semitones up to B6 fit under its Nyquist
CQ_SECONDS = 0.6  # the long window covers at least this (rounded up to a power of two of samples)
CQ_MIDI_LO = 24  # C1, librosa chroma_cqt's default fmin
CQ_MIDI_HI = 95  # B6


def cq_decimation(sample_rate: float) -> tuple[int, np.ndarray]:
    """(factor D, FIR taps): the anti-alias low-pass of the decimation to about ``CQ_RATE`` Hz.

    A Kaiser-windowed sinc (beta 6, about -60 dB) cut at the decimated Nyquist,
    14 D + 1 taps, unit gain at DC. D = 1 (rates under 9 kHz) is no filter.
    """
    factor = max(1, int(round(sample_rate / CQ_RATE)))
    if factor == 1:
        return 1, np.ones(1)
    n = 14 * factor + 1
    m = np.arange(n) - (n - 1) / 2
    h = np.sinc(m / factor) * np.kaiser(n, 6.0)
    return factor, h / h.sum()


def cq_window_size(rate: float) -> int:
    """Samples (a power of two) of the long window at the decimated ``rate``."""
    return int(2 ** np.ceil(np.log2(CQ_SECONDS * rate)))


def midi_hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def cq_filterbank(rate: float, n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, stop, weights, pitch class) of the semitone bands over the long FFT's power bins.

    One band per semitone from ``CQ_MIDI_LO`` up to the last whose upper
    neighbour lies under 0.45 ``rate``: on the log-frequency axis, flat within
    a third of a semitone of the note (A440 tuning) and falling to 0 at two
    thirds (librosa's ``chroma_cqt`` sums three CQT bins a third of a
    semitone apart per note); widened where one FFT bin is wider, so no bin
    is lost. Neighbouring bands cross at half a semitone (weights adding up
    to 1), and a note's own band is flat around it, so the flanks of its
    spectral peak stay in its pitch class (a triangle reaching the
    neighbours let 0.27 of a C2's level into C#). A
    band's power is multiplied by f_lo / f: the square root of the band then
    follows librosa's ``cqt(scale=True)`` magnitudes, which grow as the square
    root of the filter length (1 / sqrt(f)) for a sine. Pitch class 0 is C.
    """
    freqs = fft_frequencies(rate, n_fft)
    top = CQ_MIDI_HI
    while top > CQ_MIDI_LO and midi_hz(top + 1) >= 0.45 * rate:
        top -= 1
    midis = np.arange(CQ_MIDI_LO, top + 1)
    step = rate / n_fft
    with np.errstate(divide="ignore"):
        semis = 12.0 * np.log2(np.maximum(freqs, 1e-9) / 440.0) + 69.0
    fb = np.zeros((midis.size, freqs.size))
    for i, p in enumerate(midis):
        f = midi_hz(p)
        bin_width = 12.0 * np.log2((f + step) / f)  # one FFT bin, in semitones
        flat = max(1.0 / 3.0, 0.5 * bin_width)
        slope = max(1.0 / 3.0, bin_width)
        shape = np.clip((flat + slope - np.abs(semis - p)) / slope, 0.0, 1.0)
        fb[i] = shape * (midi_hz(CQ_MIDI_LO) / f)
    start, stop, weights = sparse_rows(fb)
    return start, stop, weights, (midis % 12).astype(np.int64)
