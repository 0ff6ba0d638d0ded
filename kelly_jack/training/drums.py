"""Drum grooves of an arranged clip: the General MIDI kit on MIDI channel 10 (index 9).

A groove's density is the drum cue (``cues.DRUM_LEVELS``), one of four levels:

=====  ============================================================================
level  what plays in each 4/4 bar
=====  ============================================================================
0      nothing (ballads, classical textures)
1      kick on 1 (and 3 in some grooves), snare or cross-stick on 2 and 4
2      kick on 1 and 3 (plus a pickup), snare on 2 and 4, closed hi-hat eighths,
       a crash on the first bar
3      busier kick, snare on 2 and 4 with ghost notes, hi-hat sixteenths, an open
       hi-hat on the last off-beat, a snare/tom fill closing every second bar and a
       crash after it
=====  ============================================================================

The pattern is counted in beats, so hits per second also rise with the tempo.
The groove ``seed`` picks the variant (kick placement, ride or hi-hat, cross-stick
or snare) and the humanised velocities; velocities centre on the clip's velocity
(the dynamics cue), accented on the beats.
"""

from __future__ import annotations

import numpy as np

from .music import Note

CHANNEL = 9  # MIDI channel 10: the GM percussion channel
KICK, STICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 42, 46, 49, 51
TOMS = (50, 48, 47, 45)  # high .. low
HIT_SECONDS = 0.1  # note length of a hit (the kit's samples ring on regardless)


def groove(level: int, bpm: float, seconds: float, velocity: float, seed: int) -> list[Note]:
    """The drum notes (channel 9) of a ``seconds`` long clip at ``bpm``, sorted by start; [] at level 0.

    ``level`` is 0..3 (the table above); ``velocity`` is the clip's MIDI velocity (1..127).
    """
    if level <= 0:
        return []
    rng = np.random.default_rng(seed)
    kick_on_three = bool(rng.integers(2))
    cross_stick = bool(rng.integers(2))
    ride = bool(rng.integers(3) == 0)  # some busy grooves keep time on the ride instead of the hi-hat
    pickup = (1.5, 2.5, 3.5)[int(rng.integers(3))]  # the extra kick of levels 2 and 3, in beats
    humanise = rng.integers(-6, 7, size=4096)
    beat = 60.0 / bpm
    out: list[Note] = []
    k = 0

    def hit(t_beats: float, pitch: int, vel: float) -> None:
        nonlocal k
        start = t_beats * beat
        if start >= seconds:
            return
        v = int(min(max(round(vel + humanise[k % len(humanise)]), 1), 127))
        k += 1
        out.append(Note(round(start, 6), round(min(start + HIT_SECONDS, seconds), 6), CHANNEL, pitch, v))

    bars = int(np.ceil(seconds / (4 * beat))) + 1
    for bar in range(bars):
        t0 = 4.0 * bar
        fill = level >= 3 and bar % 2 == 1
        hit(t0, KICK, velocity + 6)
        if level == 1:
            if kick_on_three:
                hit(t0 + 2, KICK, velocity)
            for b in (1, 3):
                hit(t0 + b, STICK if cross_stick else SNARE, velocity - 10)
            continue
        hit(t0 + 2, KICK, velocity)
        hit(t0 + pickup, KICK, velocity - 12)
        if bar == 0:
            hit(t0, CRASH, velocity)
        for b in (1, 3):
            if not (fill and b == 3):
                hit(t0 + b, SNARE, velocity + 4)
        step = 0.5 if level == 2 else 0.25
        n_steps = int(4 / step) - (int(1 / step) if fill else 0)  # the fill takes the last beat
        for i in range(n_steps):
            t = i * step
            on_beat = t == int(t)
            if level >= 3 and i == n_steps - 2 and not fill:
                hit(t0 + t, OPEN_HAT, velocity - 8)
            else:
                hit(t0 + t, RIDE if ride else CLOSED_HAT, velocity - (4 if on_beat else 16))
        if level >= 3:
            for ghost in (1.75, 2.75):
                hit(t0 + ghost, SNARE, velocity * 0.45)
            hit(t0 + 2.5, KICK, velocity - 10)
        if fill:
            for i in range(4):
                hit(t0 + 3 + 0.25 * i, (SNARE, TOMS[1], TOMS[2], TOMS[3])[i], velocity + 2 * i)
            hit(t0 + 4, CRASH, velocity + 4)
    out.sort(key=lambda n: (n.start, n.pitch))
    return out
