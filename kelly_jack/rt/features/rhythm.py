"""Onset strength, onset rate and a tempo estimate from a ring of past onset strengths.

Nopython kernels, inference thread. Onset strength is librosa's
``onset_strength`` on the log-mel frames (lag 1, no max filter, mean over
bands of the positive dB increase). The ring holds the last few seconds of it:
the onset rate counts its salient peaks, the tempo is the best lag of its
autocorrelation weighted by a log-normal prior around 120 BPM.
"""

from __future__ import annotations

import math

import numba


@numba.njit(nogil=True, cache=True)
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


@numba.njit(nogil=True, cache=True)
def unroll(ring, position, filled, out):
    """Copy the ``filled`` newest values of ``ring`` (next write at ``position``) oldest first into ``out``."""
    size = ring.shape[0]
    start = position - filled
    for i in range(filled):
        out[i] = ring[(start + i) % size]


@numba.njit(nogil=True, cache=True)
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


@numba.njit(nogil=True, cache=True)
def tempo(env, n, lags, prior, acf, frames_per_second):
    """Tempo in BPM of ``env[:n]`` from its prior-weighted autocorrelation; 0 without a periodicity.

    ``env`` is modified (its mean is removed). ``acf`` (len(lags)) is scratch.
    The best lag is refined by a parabola through its neighbours.
    """
    if n < 2 * lags[0] + 2:
        return 0.0
    mu = 0.0
    for i in range(n):
        mu += env[i]
    mu /= n
    energy = 0.0
    for i in range(n):
        env[i] -= mu
        energy += env[i] * env[i]
    if energy <= 1e-12 * n:
        return 0.0
    energy /= n
    best = -1
    best_v = 0.0
    for j in range(lags.shape[0]):
        lag = lags[j]
        if lag >= n - 1:
            acf[j] = 0.0
            continue
        acc = 0.0
        for i in range(lag, n):
            acc += env[i] * env[i - lag]
        acf[j] = prior[j] * acc / ((n - lag) * energy)
        if acf[j] > best_v:
            best_v = acf[j]
            best = j
    if best < 0:
        return 0.0
    lag = float(lags[best])
    if 0 < best < lags.shape[0] - 1 and lags[best + 1] < n - 1:
        a, b, c = acf[best - 1], acf[best], acf[best + 1]
        denom = a - 2.0 * b + c
        if denom < 0.0:
            lag += 0.5 * (a - c) / denom
    return 60.0 * frames_per_second / lag
