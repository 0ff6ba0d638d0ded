"""Articulation: how much of the time the sound stays up between its peaks.

Nopython kernel, inference thread. Staccato and legato at the same tempo and
loudness have the same onsets and nearly the same mean level; they differ in
what the level does between onsets: staccato notes stop and the level falls
far below the last peak, legato notes hold it. Each hop, the frame's level
(``level_db``, relative to the level reference) is compared with the loudest level of the last ``PEAK_S`` seconds
(the recent note peaks); over the last ``SPAN_S`` seconds:

* ``duty_cycle``: the share of hops within ``DUTY_DB`` of that peak (0..1;
  1 for a held tone, about the sounding share of each note for staccato);
* ``level_dip_db``: the mean of (level - peak), floored at ``DIP_FLOOR_DB``
  (-40 .. 0 dB; 0 for a held tone).

Hops quieter than ``SILENT_DB`` count as not sounding (the floor), so
silence reads duty 0, dip -40 dB, like a gap between notes.
"""

from __future__ import annotations

from . import layout as L
from .group import State, helper, kernel

PEAK_S = 1.0
SPAN_S = 3.0
DUTY_DB = 10.0
DIP_FLOOR_DB = -40.0
SILENT_DB = -80.0

SLOTS = (L.DUTY_CYCLE, L.LEVEL_DIP_DB)  # in this order: the kernel writes them as a pair
assert L.LEVEL_DIP_DB == L.DUTY_CYCLE + 1
ARRAYS = (
    State("level_ring", lambda s: s.hops(PEAK_S)),  # past levels (the recent peak)
    State("dip_ring", lambda s: s.hops(SPAN_S)),  # past dips below it
)


@helper
def articulation(level_db, seen, level_ring, dip_ring, peak_span, out):
    """Push this hop's ``level_db`` and write (duty cycle, mean dip dB) into ``out[:2]``.

    ``level_ring`` (>= ``peak_span`` values) holds past levels and
    ``dip_ring`` (its length is the averaging span in hops) past dips; both
    are streaming state indexed by ``seen`` (hops since reset). Non-finite
    levels count as silent.
    """
    if not (level_db > SILENT_DB):  # also NaN
        level_db = SILENT_DB
    n_level = level_ring.shape[0]
    level_ring[seen % n_level] = level_db
    m = min(seen + 1, peak_span)
    peak = level_db
    for i in range(m):
        v = level_ring[(seen - i) % n_level]
        if v > peak:
            peak = v
    dip = level_db - peak
    if level_db <= SILENT_DB or dip < DIP_FLOOR_DB:
        dip = DIP_FLOOR_DB
    n_dip = dip_ring.shape[0]
    dip_ring[seen % n_dip] = dip
    filled = min(seen + 1, n_dip)
    up = 0
    acc = 0.0
    for i in range(filled):
        d = dip_ring[i]
        acc += d
        if d > -DUTY_DB:
            up += 1
    out[0] = up / filled
    out[1] = acc / filled


@kernel
def hop(vec, seen, level_ring, dip_ring):
    """Duty cycle and mean dip of ``level_db`` (already in ``vec``) into ``vec``."""
    articulation(
        vec[L.LEVEL_DB], seen, level_ring, dip_ring, level_ring.shape[0], vec[L.DUTY_CYCLE : L.LEVEL_DIP_DB + 1]
    )
