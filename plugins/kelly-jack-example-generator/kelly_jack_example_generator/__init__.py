"""An example MIDI generator plugin for kelly-jack: ``pulse``.

One note on every beat (a closed hi-hat, GM drum note 42, on channel 10 by
default), louder and shorter as arousal rises; on every bar's first beat a
second note (``accent``, default 36, a kick) when valence is positive.
Options: ``channel`` (1..16), ``note``, ``accent``.

It shows the whole contract: a factory taking the options, ``name`` and
``channel``, ``generate(moment, out)`` queueing notes with their note-offs on
the output frames ``[moment.start, moment.end)``, and ``reset()``.
"""

from __future__ import annotations

import math

from kelly_jack.hookspecs import GeneratorFactory, hookimpl


class Pulse:
    name = "pulse"

    def __init__(self, options: dict):
        unknown = set(options) - {"channel", "note", "accent"}
        if unknown:
            raise ValueError(f"unknown option {sorted(unknown)[0]!r} (known: channel, note, accent)")
        self.channel = int(options.get("channel", 10)) - 1
        self.note = int(options.get("note", 42))
        self.accent = int(options.get("accent", 36))

    def generate(self, moment, out) -> None:
        beat = math.ceil(moment.beat)  # no epsilon: [beat, end_beat) tiles the time line exactly
        velocity = max(1, min(127, int(70 + 50 * moment.arousal)))
        length = max(1, int(moment.frames_per_beat * (0.5 - 0.3 * moment.arousal)))
        while beat < moment.end_beat:
            frame = moment.frame_at(beat)
            out.note(frame, length, self.channel, self.note, velocity)
            if moment.valence > 0 and beat % moment.beats_per_bar == 0:
                out.note(frame, length, self.channel, self.accent, velocity)
            beat += 1

    def reset(self) -> None:
        pass


@hookimpl
def kelly_jack_generators():
    return [GeneratorFactory("pulse", Pulse, "a note on every beat, louder and shorter with arousal")]
