"""Emotion-vector kernels: the 8x8 valence-arousal grid and smoothing.

The model's 64 floats are logits over an 8x8 grid of the valence-arousal
plane: index ``row * 8 + col`` with valence along columns and arousal along
rows, cell centres at ``linspace(-1, 1, 8)`` on both axes. Valence and arousal
are the softmax-weighted centroid; confidence is ``1 - spread / uniform_spread``
clamped to 0..1, where spread is the root of the summed variances: 1 for all
mass in one cell, 0 for a uniform (or wider) distribution.

Pure nopython kernels, no allocation; safe on any thread.
"""

from __future__ import annotations

import math

import numba
import numpy as np

GRID = 8
EMOTION_SIZE = GRID * GRID
AXIS = np.linspace(-1.0, 1.0, GRID)
# Spread of the uniform grid; corner-heavy distributions spread wider, hence the clamp.
_UNIFORM_SPREAD = math.sqrt(2.0 * float(np.var(AXIS)))

_jit = numba.njit(nogil=True, cache=True)


@_jit
def grid_centroid(emotion, out):
    """Write (valence, arousal, confidence) of 64 logits into ``out[:3]``.

    Non-finite logits count as very unlikely cells; if none is finite the
    result is (0, 0, 0). Returns the number of non-finite logits seen.
    """
    bad = 0
    peak = -np.inf
    for i in range(EMOTION_SIZE):
        x = emotion[i]
        if not np.isfinite(x):
            bad += 1
        elif x > peak:
            peak = x
    if bad == EMOTION_SIZE:
        out[0] = 0.0
        out[1] = 0.0
        out[2] = 0.0
        return bad
    total = 0.0
    mv = 0.0
    ma = 0.0
    sv = 0.0
    sa = 0.0
    for i in range(EMOTION_SIZE):
        x = emotion[i]
        if not np.isfinite(x):
            continue
        w = math.exp(x - peak)
        v = -1.0 + 2.0 * (i % GRID) / (GRID - 1)
        a = -1.0 + 2.0 * (i // GRID) / (GRID - 1)
        total += w
        mv += w * v
        ma += w * a
        sv += w * v * v
        sa += w * a * a
    mv /= total
    ma /= total
    var = max(sv / total - mv * mv, 0.0) + max(sa / total - ma * ma, 0.0)
    out[0] = mv
    out[1] = ma
    out[2] = max(0.0, 1.0 - math.sqrt(var) / _UNIFORM_SPREAD)
    return bad


def logits_for(valence: float, arousal: float) -> np.ndarray:
    """64 logits whose grid centroid is exactly (valence, arousal), both clamped to -1..1.

    Bilinear weights on the four surrounding cells; cells without weight get a
    logit of -40 (a weight of 4e-18 after softmax). Used by the stub backends.
    """
    p = np.zeros(EMOTION_SIZE)
    fv = (min(max(valence, -1.0), 1.0) + 1.0) / 2.0 * (GRID - 1)
    fa = (min(max(arousal, -1.0), 1.0) + 1.0) / 2.0 * (GRID - 1)
    c0, r0 = min(int(fv), GRID - 2), min(int(fa), GRID - 2)
    tv, ta = fv - c0, fa - r0
    for dr, wr in ((0, 1.0 - ta), (1, ta)):
        for dc, wc in ((0, 1.0 - tv), (1, tv)):
            p[(r0 + dr) * GRID + c0 + dc] += wr * wc
    with np.errstate(divide="ignore"):
        logits = np.where(p > 0, np.log(np.maximum(p, 1e-300)), -40.0)
    return logits.astype(np.float32)


@_jit
def smoothing_alpha(frames, tau_frames):
    """One-pole coefficient for advancing ``frames`` with time constant ``tau_frames``.

    ``tau_frames <= 0`` means no smoothing (coefficient 1).
    """
    if tau_frames <= 0.0:
        return 1.0
    return 1.0 - math.exp(-frames / tau_frames)


@_jit
def blend(ml, user, amount, ml_on):
    """The value sent out: ``amount`` of the model's, the rest the user's; user only when ML is off."""
    if ml_on <= 0.5:
        return user
    return amount * ml + (1.0 - amount) * user


@_jit
def cc_value(x):
    """A value in -1..1 as a 7-bit controller value 0..127 (non-finite gives 64)."""
    if not np.isfinite(x):
        return 64
    q = int(math.floor((x + 1.0) * 63.5 + 0.5))
    return min(max(q, 0), 127)


@_jit
def learned_mapping(emotion, matrix, out):
    """Write (valence, arousal, dominance) = ``matrix`` (3 x 64) @ softmax(64 logits) into ``out[:3]``, each clamped
    to -1..1 (a model's learned mapping). Non-finite logits count as very unlikely cells; none finite gives 0s."""
    peak = -np.inf
    for i in range(EMOTION_SIZE):
        if np.isfinite(emotion[i]) and emotion[i] > peak:
            peak = emotion[i]
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    if peak == -np.inf:
        return
    total = 0.0
    for i in range(EMOTION_SIZE):
        if np.isfinite(emotion[i]):
            total += math.exp(emotion[i] - peak)
    for i in range(EMOTION_SIZE):
        if np.isfinite(emotion[i]):
            p = math.exp(emotion[i] - peak) / total
            for r in range(3):
                out[r] += matrix[r, i] * p
    for r in range(3):
        out[r] = min(max(out[r], -1.0), 1.0)
