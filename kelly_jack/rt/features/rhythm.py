"""Onset strength, onset rate and a tempo estimate from a ring of past onset strengths.

Nopython kernels, inference thread. Onset strength is librosa's
``onset_strength`` on the log-mel frames (lag 1, no max filter, mean over
bands of the positive dB increase). The ring holds the last few seconds of it:
the onset rate counts its salient peaks, the tempo is the best period of the
autocorrelation of its compressed form (each note counts, not its size;
layout 4) on a grid of fractional periods, harmonically weighted (at the
period and its double), under a log-normal prior around 120 BPM; the tempogram is the strongest
autocorrelation in each of a few log-spaced tempo bands, with no prior, so a
model sees every octave's evidence rather than one estimate.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import layout as L
from . import tables
from .group import Setting, State, Table, Work, helper, kernel

ONSET_RATE_S = 3.0  # the onset rate counts the last 3 s
TEMPO_S = 6.0  # the tempo and the tempogram read the last 6 s
RHYTHM_FPS_MAX = 100.0  # shorter hops share a rhythm frame (their onset strengths' maximum)
ONSET_COMPRESS_DB = 0.3  # the tempo's onset compression scale (``compress``)


def stride(s: Setting) -> int:
    """Hops per rhythm frame (1 unless hops are shorter than 1 / RHYTHM_FPS_MAX)."""
    return max(1, int(np.ceil(s.fps / RHYTHM_FPS_MAX)))


def frames_per_second(s: Setting) -> float:
    """Rhythm frames per second."""
    return s.fps / stride(s)


def onset_size(s: Setting) -> int:
    """Rhythm frames in the onset ring."""
    return max(8, int(round(max(TEMPO_S, ONSET_RATE_S) * frames_per_second(s))))


@functools.cache
def _lags(fps: float, size: int) -> np.ndarray:
    return tables.tempo_lags(fps, size)


@functools.cache
def _grid(fps: float):
    return tables.tempo_grid(fps)


@functools.cache
def _bands(fps: float):
    return tables.tempogram_bands(fps, L.tempogram_edges())


def lags(s: Setting) -> np.ndarray:
    """The whole lags (rhythm frames) of 40..240 BPM the autocorrelation is taken at."""
    return _lags(frames_per_second(s), onset_size(s))


def _params(s: Setting) -> np.ndarray:
    return np.array([frames_per_second(s), max(3, int(round(ONSET_RATE_S * frames_per_second(s)))), stride(s)])


# the rows of the work space: the onset ring unrolled (oldest first), an autocorrelation, the tempo candidates' scores
ENV, ACF, SCORES = range(3)


def _work_width(s: Setting) -> int:
    n = lags(s)
    return max(onset_size(s), len(n) + 2 * int(n[-1]) + 2, len(_grid(frames_per_second(s))[0]))


# the float state: the onset strength's maximum in the current rhythm frame, and the values of the last
# rhythm frame (written into every hop's vector)
PEAK = 0
RATE = 1
TEMPO = 2  # TEMPO and DOUBLE in tempo()'s order
DOUBLE = 3
TEMPOGRAM = 4  # .. 4 + N_TEMPOGRAM

SLOTS = (L.ONSET_STRENGTH, L.ONSET_RATE, L.TEMPO, L.TEMPO_DOUBLE, *range(L.TEMPOGRAM, L.TEMPOGRAM + L.N_TEMPOGRAM))
ARRAYS = (
    Table("params", _params),  # (rhythm frames per second, onset-rate span in rhythm frames, hops per rhythm frame)
    Table("lags", lags),
    Table("periods", lambda s: _grid(frames_per_second(s))[0]),  # the tempo candidates (tables.tempo_grid)
    Table("grid_prior", lambda s: _grid(frames_per_second(s))[1]),
    Table("band_lo", lambda s: _bands(frames_per_second(s))[0]),  # the tempogram bands' lags
    Table("band_hi", lambda s: _bands(frames_per_second(s))[1]),
    Work("rhythm_work", lambda s: (3, _work_width(s))),  # rows ENV, ACF, SCORES
    State("prev_logmel", lambda s: L.N_MELS),  # the previous frame's log-mel (onset strength)
    State("onset_ring", onset_size),  # one onset strength per rhythm frame
    State("rhythm_state", lambda s: TEMPOGRAM + L.N_TEMPOGRAM),  # PEAK, RATE, TEMPO, DOUBLE, TEMPOGRAM..
    State("rhythm_frames", lambda s: 1, np.int64),  # rhythm frames written into the ring since reset
)


@helper
def onset_strength(logmel, prev, have_prev):
    """Mean over bands of max(0, logmel - prev) (0 when there is no previous frame); prev := logmel."""
    n = logmel.shape[0]
    acc = 0.0
    for b in range(n):
        d = logmel[b] - prev[b]
        if d > 0.0:
            acc += d
        prev[b] = logmel[b]
    return acc / n if have_prev else 0.0


@helper
def unroll(ring, position, filled, out):
    """Copy the ``filled`` newest values of ``ring`` (next write at ``position``) oldest first into ``out``."""
    size = ring.shape[0]
    start = position - filled
    for i in range(filled):
        out[i] = ring[(start + i) % size]


@helper
def onset_rate(env, n, span, frames_per_second):
    """Onsets per second in the last ``span`` values of ``env[:n]``.

    An onset is a local maximum above the window's mean plus one standard
    deviation (and above 0). The newest value cannot be a peak yet (it needs a
    successor), so an onset counts one hop late.
    """
    m = min(n, span)
    if m < 3:
        return 0.0
    lo = n - m
    mu = 0.0
    for i in range(lo, n):
        mu += env[i]
    mu /= m
    var = 0.0
    for i in range(lo, n):
        var += (env[i] - mu) ** 2
    threshold = max(mu + math.sqrt(var / m), 1e-6)
    count = 0
    for i in range(lo + 1, n - 1):
        if env[i] > threshold and env[i] > env[i - 1] and env[i] >= env[i + 1]:
            count += 1
    return count * frames_per_second / m


@helper
def _acf(env, n, lag, energy):
    """Autocorrelation of the zero-mean ``env[:n]`` at ``lag``, unbiased, over the energy (0 past n - 2)."""
    if lag >= n - 1 or lag < 1:
        return 0.0
    acc = 0.0
    for i in range(lag, n):
        acc += env[i] * env[i - lag]
    return acc / ((n - lag) * energy)


@helper
def compress(env, n, scale):
    """``env[:n] := log(1 + env / scale)`` (onset strengths in dB, >= 0): each note's onset counts, not its size.

    A chord struck with five notes and a melody note on top of it differ
    by a factor of several in onset strength; compressed, the melody's beat-level
    onsets weigh nearly as much as the accompaniment's hits, so the autocorrelation
    sees the beat rather than the chords' slower period (half-tempo errors on
    the training corpus: 20 % -> 12 %, docs/features.md "Tempo (layout 4)").
    """
    for i in range(n):
        v = env[i]
        env[i] = math.log1p(v / scale) if v > 0.0 else 0.0


@helper
def _interp(full, lo, top, period):
    """The autocorrelation ``full`` (lags lo..top) at a fractional ``period``, linearly interpolated."""
    i = int(period)
    if i < lo or i > top:
        return 0.0
    f = period - i
    if i + 1 > top:
        return full[i - lo]
    return full[i - lo] * (1.0 - f) + full[i + 1 - lo] * f


@helper
def tempo(env, n, lags, periods, prior, acf, scores, frames_per_second, out):
    """Tempo of ``env[:n]``: ``out[0]`` BPM (0 without a periodicity), ``out[1]`` the double-time ratio.

    Candidates are a grid of tempi (``periods``: fractional periods in rhythm
    frames, ``tables.tempo_grid``: 1/48 octave apart): a beat period is rarely a
    whole number of frames (180 BPM is 15.6 frames at 46.9 per second) and a
    whole-lag search splits its peak between two lags, which favoured the
    slower octave, whose period splits less . Each candidate
    period P scores the mean of the autocorrelation at P and at 2P, both
    linearly interpolated between whole lags (harmonic weighting: a beat
    period repeats at its double, while the half of a period only does when
    the music subdivides it), weighted by ``prior`` (log-normal around 120
    BPM, one octave, as librosa's). The best candidate is refined by a
    parabola on the log-tempo grid. ``out[1]`` is the autocorrelation at half
    the chosen period over that at the period, clipped to -1..1: near 1 when
    the level twice as fast is as periodic. ``env`` is modified (its mean is
    removed); ``acf`` (len(lags) + 2 lags[-1] + 2 values) and ``scores``
    (len(periods)) are scratch.
    """
    out[0] = 0.0
    out[1] = 0.0
    top, mu, energy = _autocorrelation(env, n, lags, acf)
    if top == 0:
        return
    for i in range(n):
        env[i] -= mu  # zero-mean, for the autocorrelation at half the period below
    lo = lags[0]
    full = acf[lags.shape[0] :]  # the autocorrelation at lags lo..top
    n_grid = periods.shape[0]
    best = -1
    best_v = 0.0
    for j in range(n_grid):
        p = periods[j]
        if p < lo or p > top:
            scores[j] = 0.0
            continue
        a = _interp(full, lo, top, p)
        if 2.0 * p + 1.0 <= top:
            a = 0.5 * (a + _interp(full, lo, top, 2.0 * p))
        scores[j] = prior[j] * a
        if scores[j] > best_v:
            best_v = scores[j]
            best = j
    if best < 0:
        return
    period = periods[best]
    step = 0.0  # the refinement in grid steps (the grid is uniform in log tempo)
    if 0 < best < n_grid - 1 and scores[best - 1] > 0.0 and scores[best + 1] > 0.0:
        a, b, c = scores[best - 1], scores[best], scores[best + 1]
        denom = a - 2.0 * b + c
        if denom < 0.0:
            step = min(0.5, max(-0.5, 0.5 * (a - c) / denom))
    if step != 0.0:
        neighbour = periods[best + 1] if step > 0.0 else periods[best - 1]
        period = period * (neighbour / period) ** abs(step)
    out[0] = 60.0 * frames_per_second / period
    at = _interp(full, lo, top, period)
    if at > 1e-9:
        half = 0.5 * period
        i = int(half)
        f = half - i
        h = _acf(env, n, i, energy) * (1.0 - f) + _acf(env, n, i + 1, energy) * f
        out[1] = min(1.0, max(-1.0, h / at))


@helper
def _autocorrelation(env, n, lags, acf):
    """``autocorrelation``, also returning the mean and the energy (per value) of ``env[:n]``: (top, mu, energy)."""
    if n < 2 * lags[0] + 2:
        return 0, 0.0, 0.0
    mu = 0.0
    for i in range(n):
        mu += env[i]
    mu /= n
    energy = 0.0
    for i in range(n):
        energy += (env[i] - mu) * (env[i] - mu)
    if energy <= 1e-12 * n:
        return 0, mu, 0.0
    energy /= n
    n_lags = lags.shape[0]
    lo = lags[0]
    top = min(2 * lags[n_lags - 1] + 1, n - 2)  # the longest lag with a value
    for lag in range(lo, top + 1):
        acc = 0.0
        for i in range(lag, n):
            acc += (env[i] - mu) * (env[i - lag] - mu)
        acf[n_lags + lag - lo] = acc / ((n - lag) * energy)
    return top, mu, energy


@helper
def autocorrelation(env, n, lags, acf):
    """The autocorrelation of ``env[:n]`` (as ``tempo`` computes it) at lags ``lags[0]``..top into ``acf[len(lags):]``.

    Returns top (the longest lag with a value), 0 when ``env`` is too short or
    flat. ``env`` is not modified. The tempogram reads this one, of the raw
    onset strength, while the tempo reads the compressed onsets: on the
    training corpus's held-out clips the model read the octave evidence better
    from the raw one (docs/features.md, "Layout 3 -> 4").
    """
    return _autocorrelation(env, n, lags, acf)[0]


@helper
def tempogram(acf, lags, top, band_lo, band_hi, out):
    """The strongest autocorrelation in each tempo band into ``out`` (clipped to -1..1; 0 where no lag is known).

    Band k covers the lags ``band_lo[k]..band_hi[k]`` (whole rhythm frames,
    from ``tables.tempogram_bands``); ``acf[len(lags):]`` holds the
    autocorrelation from ``lags[0]`` to ``top`` as ``autocorrelation`` left it.
    No prior: 60 and 120 BPM are scored alike, so the octave the music sits
    in is left to the model.
    """
    n_lags = lags.shape[0]
    lo = lags[0]
    for k in range(out.shape[0]):
        first = max(lo, band_lo[k])
        last = min(top, band_hi[k])
        if last < first:
            out[k] = 0.0
            continue
        best = acf[n_lags + first - lo]
        for lag in range(first + 1, last + 1):
            best = max(best, acf[n_lags + lag - lo])
        out[k] = min(1.0, max(-1.0, best))


@kernel
def hop(
    vec,
    seen,
    params,
    lags,
    periods,
    grid_prior,
    band_lo,
    band_hi,
    rhythm_work,
    prev_logmel,
    onset_ring,
    rhythm_state,
    rhythm_frames,
):
    """Onset strength (from the log-mel in ``vec``), and every rhythm frame onset rate, tempo and tempogram.

    The onset strength's maximum over ``params[2]`` hops (rhythm frames of at
    most RHYTHM_FPS_MAX per second, so short hops do not multiply the tempo
    search) goes into the ring; the values of the last rhythm frame are held
    in between.
    """
    rhythm_fps = params[0]
    rate_span = int(params[1])
    hops_per_frame = int(params[2])
    st = rhythm_state
    env = rhythm_work[ENV]
    acf = rhythm_work[ACF]
    onset = onset_strength(vec[L.MEL : L.MEL + L.N_MELS], prev_logmel, seen > 0)
    vec[L.ONSET_STRENGTH] = onset
    st[PEAK] = max(st[PEAK], onset) if seen % hops_per_frame else onset
    if (seen + 1) % hops_per_frame == 0:
        beats = rhythm_frames[0]
        size = onset_ring.shape[0]
        onset_ring[beats % size] = st[PEAK]
        filled = min(beats + 1, size)
        unroll(onset_ring, beats + 1, filled, env)
        st[RATE] = onset_rate(env, filled, rate_span, rhythm_fps)
        # the tempogram: the raw onsets' autocorrelation (the model reads the octave evidence better there)
        top = autocorrelation(env, filled, lags, acf)
        tempogram(acf, lags, top, band_lo, band_hi, st[TEMPOGRAM : TEMPOGRAM + L.N_TEMPOGRAM])
        # the tempo: the compressed onsets (each note counts, not its size); it reuses ``acf``
        compress(env, filled, ONSET_COMPRESS_DB)
        tempo(env, filled, lags, periods, grid_prior, acf, rhythm_work[SCORES], rhythm_fps, st[TEMPO : DOUBLE + 1])
        rhythm_frames[0] = beats + 1
    vec[L.ONSET_RATE] = st[RATE]
    vec[L.TEMPO] = st[TEMPO]
    vec[L.TEMPO_DOUBLE] = st[DOUBLE]
    for k in range(L.N_TEMPOGRAM):
        vec[L.TEMPOGRAM + k] = st[TEMPOGRAM + k]
