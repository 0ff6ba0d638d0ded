"""``cc``: valence, arousal and dominance as control changes, from the generator side.

One message per controller per hop at most, at the hop's first output frame,
when its 7-bit value changes (the same ``-1..1 -> 0..127`` scale as the audio
kernel's CCs). The values are the blended, smoothed ones the runner gives
every generator, stepped once a hop. Use it for extra controller streams
(another channel, other CC numbers, dominance when the model ships a learned
mapping that gives it); the emotion CCs of ``midi.*`` are written by the audio
kernel itself, applied at each result's exact frame and smoothed per frame.
Options: ``channel`` (1..16, default 1), ``valence``, ``arousal``,
``dominance`` (CC numbers 0..127, or -1 for none; defaults 20, 21, -1).
"""

from __future__ import annotations

from typing import Any

from ...errors import KellyError
from ...rt.emotion import cc_value
from ..generator import Moment
from ..scheduler import EventScheduler


class CCError(KellyError, ValueError):
    """A bad option; the message names it."""


class ControlChanges:
    name = "cc"

    def __init__(self, options: dict[str, Any]):
        known = {"channel": 1, "valence": 20, "arousal": 21, "dominance": -1}
        unknown = set(options) - set(known)
        if unknown:
            raise CCError(f"unknown option {sorted(unknown)[0]!r} (known: {', '.join(known)})")
        values = {**known, **options}
        for key, lo in (("channel", 1), ("valence", -1), ("arousal", -1), ("dominance", -1)):
            v = values[key]
            hi = 16 if key == "channel" else 127
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise CCError(f"{key}: expected {lo}..{hi}, got {v!r}")
        self.channel = values["channel"] - 1
        self.numbers = (values["valence"], values["arousal"], values["dominance"])
        if len({n for n in self.numbers if n >= 0}) < len([n for n in self.numbers if n >= 0]):
            raise CCError(f"valence, arousal and dominance need distinct CC numbers, got {self.numbers}")
        self.reset()

    def reset(self) -> None:
        self._sent = [-1, -1, -1]

    def generate(self, moment: Moment, out: EventScheduler) -> None:
        for i, value in enumerate((moment.valence, moment.arousal, moment.dominance)):
            number = self.numbers[i]
            if number < 0 or value is None:
                continue
            q = cc_value(value)
            if q != self._sent[i]:
                out.control_change(moment.start, self.channel, number, q)
                self._sent[i] = q
