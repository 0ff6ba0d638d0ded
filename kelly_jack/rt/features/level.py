"""The level reference: the analysis hears music, not the input gain.

Nopython kernel, inference thread. A live rig's input level is arbitrary
(preamp, fader, mastering), so no feature may depend on it. Each hop the
frame's level in dB updates a causal level reference (a one-pole follower in
dB, ``ATTACK_S`` up and ``RELEASE_S`` down: a step closes by the same share of
its decibels per second however large it is), and the analysis
frame is scaled so the reference sits at ``TARGET_DB``; every feature is then
computed on the scaled frame. Scaling the input by any gain scales the
reference by the same gain, so the scaled frame, and every feature, is the
same (to float32 rounding) at any input level above the gate. The audio
outputs never see this: it works on the extractor's own copy of the window.

What is left of loudness is relative: ``level_db`` (the hop against the
reference: accents, soft and loud passages until the reference follows),
``passage_db`` (the last ``PASSAGE_S`` against the reference: a crescendo reads
above 0, a subito piano below) and the brighter spectrum of louder playing.

Gates, as loudness meters gate (ITU-R BS.1770): hops under ``ABS_GATE_DB`` dBFS
(digital silence, a noise floor) never move the reference, nor do hops more
than ``REL_GATE_DB`` under it (a pause between phrases), so a rest does not
drag the reference down and blow the next note up. A hop more than
``HEADROOM_DB`` above the reference pulls it up to that distance at once, so
music that starts over a noise floor reads at most that much too loud while
the reference settles. Before the first hop above the absolute gate there is
no reference and the gain is 1.
"""

from __future__ import annotations

import math

import numpy as np

from . import layout as L
from .descriptors import time_stats
from .group import Setting, State, Table, helper, kernel

ATTACK_S = 2.0
RELEASE_S = 4.0
PASSAGE_S = 0.5
TARGET_DB = -20.0  # where the analysis puts the reference (dBFS of the scaled frame)
ABS_GATE_DB = -100.0
REL_GATE_DB = -30.0
HEADROOM_DB = 20.0  # a hop this far above the reference pulls it up at once (music after a noise floor)
PASSAGE_RANGE_DB = 40.0  # passage_db is clamped to +-this

# indices of the level state (a float64 array of LEVEL_STATE values)
REFERENCE = 0  # the reference, dBFS
PASSAGE = 1  # the last PASSAGE_S's mean square (ungated)
GAIN = 2  # the gain applied to the last frame
SOUNDING = 3  # 1 once a hop has passed the absolute gate (there is a reference), else 0
LEVEL_STATE = 4


def follower_coefficient(seconds: float, hops_per_second: float) -> float:
    """The one-pole coefficient of a follower with time constant ``seconds`` updated ``hops_per_second``."""
    return 1.0 - math.exp(-1.0 / (seconds * hops_per_second))


def _coefficients(s: Setting) -> np.ndarray:
    return np.array([follower_coefficient(t, s.fps) for t in (ATTACK_S, RELEASE_S, PASSAGE_S)])


SLOTS = (L.LEVEL_DB, L.PASSAGE_DB)
ARRAYS = (
    Table("coefficients", _coefficients),  # the attack, release and passage followers' coefficients
    State("level_state", lambda s: LEVEL_STATE),  # REFERENCE, PASSAGE, GAIN, SOUNDING
)


@helper
def level_reference(mean_square, state, attack, release, passage):
    """Update the level ``state`` with this hop's ``mean_square`` and return the analysis gain.

    ``attack``, ``release`` and ``passage`` are ``follower_coefficient``s for
    ``ATTACK_S``, ``RELEASE_S`` and ``PASSAGE_S`` at the hop rate. The gain
    (linear) puts the reference at ``TARGET_DB``; it is also stored in
    ``state[GAIN]``.
    """
    ms = mean_square if mean_square > 0.0 else 0.0  # also NaN
    db = 10.0 * math.log10(ms) if ms > 0.0 else -400.0
    ref = state[REFERENCE]
    if db > ABS_GATE_DB:
        if state[SOUNDING] == 0.0:
            ref = db
            state[PASSAGE] = ms
            state[SOUNDING] = 1.0
        elif db > ref + REL_GATE_DB:
            ref += (attack if db > ref else release) * (db - ref)
            ref = max(ref, db - HEADROOM_DB)
        state[REFERENCE] = ref
    if state[SOUNDING] != 0.0:
        state[PASSAGE] += passage * (ms - state[PASSAGE])
        gain = 10.0 ** ((TARGET_DB - ref) / 20.0)
    else:
        gain = 1.0
    state[GAIN] = gain
    return gain


@helper
def passage_db(state):
    """The last ``PASSAGE_S``'s level against the reference, in dB (+-``PASSAGE_RANGE_DB``; 0 before a reference)."""
    if state[SOUNDING] == 0.0:
        return 0.0
    p = state[PASSAGE]
    floor = 10.0 ** ((state[REFERENCE] - PASSAGE_RANGE_DB) / 10.0)
    if p <= floor:
        return -PASSAGE_RANGE_DB
    return min(10.0 * math.log10(p) - state[REFERENCE], PASSAGE_RANGE_DB)


@kernel
def hop(frame, vec, coefficients, level_state):
    """Scale ``frame`` in place to the level reference; write ``level_db`` and ``passage_db``.

    Returns the scaled frame's (rms, peak): every other group hears the scaled
    frame, so no feature depends on the input level.
    """
    rms, peak = time_stats(frame)
    gain = level_reference(rms * rms, level_state, coefficients[0], coefficients[1], coefficients[2])
    for i in range(frame.shape[0]):
        frame[i] *= gain
    rms *= gain
    peak *= gain
    vec[L.LEVEL_DB] = 20.0 * math.log10(max(rms, 1e-5)) - TARGET_DB
    vec[L.PASSAGE_DB] = passage_db(level_state)
    return rms, peak
