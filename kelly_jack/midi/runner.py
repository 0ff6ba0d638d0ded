"""Running the generators after each inference result (the control-thread side of MIDI generation).

``GeneratorRunner.after_result(frame, valence, arousal, dominance)`` is called
on the inference thread with the client frame ``t`` of the window's last
frame. It fills the output stretch ``[t + 1 + L, t + 1 + L + hop)``: the
audio of that window comes out of the delay line from ``t + 1 - window + L``
on, and the stretch up to the next result belongs to this one. It blends and
smooths valence/arousal as the audio thread does for the CCs, asks the tempo
source where the beat is, calls every generator, and releases the events up
to the stretch's end: no later call can add an earlier one.

``tick(clock)`` (also on the inference thread, every wake-up) notices a
transport stop (all notes off) and, when results stop coming (a failing
backend), still releases the queued note-offs as their time comes, so no note
hangs. ``stop(frame)`` ends every note at ``frame``.

Each ``generate`` call runs on a plugin worker with a deadline and writes
into a checked ``EventBatch`` that reaches the scheduler only when the call
succeeds (``inference/guard.py``, ``batch.py``). A generator that hangs, or
fails ``max_failures`` hops in a row, is dropped (its queued note-offs still
play); the others go on.
"""

from __future__ import annotations

import math
import sys

from ..inference.guard import FailureReport, FailureTracker, PluginCaller, PluginFailure
from .batch import EventBatch
from .generator import Generator, Moment
from .key import KeyTracker
from .scheduler import EventScheduler
from .tempo import InternalClock, TempoSource


class GeneratorRunner:
    """Drives ``generators`` into ``scheduler``.

    ``latency`` and ``hop`` in frames, ``rate`` in Hz; ``smoothing_frames`` is
    the one-pole time constant (0: none); ``user`` returns the user's
    (valence, arousal, blend, ml_on) as the audio thread last saw them. A
    ``generate`` call longer than ``timeout_s`` seconds, or ``max_failures``
    failed calls in a row, drops that generator.
    """

    def __init__(
        self,
        generators: list[Generator],
        scheduler: EventScheduler,
        rate: int,
        latency: int,
        hop: int,
        tempo: TempoSource | None = None,
        smoothing_frames: float = 0.0,
        user=None,
        timeout_s: float = 1.0,
        max_failures: int = 20,
    ):
        self.generators = list(generators)
        self.timeout_s = timeout_s
        self._caller = PluginCaller()
        self._failures = {id(g): FailureTracker(max_failures) for g in self.generators}
        self.dropped: list[str] = []  # names of the generators dropped for failing
        self.scheduler = scheduler
        self.rate, self.latency, self.hop = rate, latency, hop
        self.tempo = tempo or InternalClock()
        self.smoothing_frames = smoothing_frames
        self.user = user or (lambda: (0.0, 0.0, 1.0, True))
        self.errors = 0
        self.calls = 0
        self.key = KeyTracker(hop / rate)
        self._v: float | None = None
        self._a = 0.0
        self._last_start: int | None = None
        self._horizon = -(1 << 62)
        self._rolling = True
        self._report = FailureReport("(counted)")
        self._end: int | None = None  # the last moment's end frame and beat, to tile the time line exactly
        self._end_beat: float | None = None

    def _blend(self, valence: float, arousal: float, start: int) -> tuple[float, float]:
        user_v, user_a, amount, ml_on = self.user()
        if not ml_on:
            return user_v, user_a
        v = amount * valence + (1.0 - amount) * user_v
        a = amount * arousal + (1.0 - amount) * user_a
        if self._v is None or self.smoothing_frames <= 0 or self._last_start is None:
            self._v, self._a = v, a
        else:
            k = 1.0 - math.exp(-max(start - self._last_start, 0) / self.smoothing_frames)
            self._v += k * (v - self._v)
            self._a += k * (a - self._a)
        return self._v, self._a

    def after_result(
        self, frame: int, valence: float, arousal: float, dominance: float | None = None, features=None
    ) -> None:
        """Generate the output stretch of the result for the window ending at client ``frame``.

        ``features`` (that hop's 128) feed the key tracker of ``key: auto`` generators.
        """
        tonic = self.key.update(features) if features is not None else self.key.tonic
        start = frame + 1 + self.latency
        if self._last_start is not None and start < self._last_start + self.hop:
            start = self._last_start + self.hop  # never fill a stretch twice
        end = start + self.hop
        v, a = self._blend(valence, arousal, start)
        self._last_start = start
        pos = self.tempo.position(start, self.rate, a)
        if not pos.rolling:
            self._transport_stopped(start)
            self._release(end)
            return
        self._rolling = True
        beat = self._end_beat if start == self._end and self._end_beat is not None else pos.beat
        end_beat = beat + (end - start) * pos.bpm / (60.0 * self.rate)
        self._end, self._end_beat = end, end_beat
        moment = Moment(start, end, self.rate, v, a, dominance, pos.bpm, beat, end_beat, pos.beats_per_bar, True, tonic)
        for g in list(self.generators):
            self._generate(g, moment)
        self.calls += 1
        self._release(end)

    def _generate(self, g: Generator, moment: Moment) -> None:
        """One generator's call, isolated: its events reach the scheduler only if it succeeds."""
        batch = EventBatch(moment.start, moment.end, moment.rate)
        _, failure = self._caller.try_call(self._what(g), g.generate, moment, batch, timeout_s=self.timeout_s)
        if failure is not None:  # one broken generator must not silence the others
            self.errors += 1
            self._failed(g, failure)
            return
        self._failures[id(g)].ok()
        batch.move_into(self.scheduler)

    @staticmethod
    def _what(g: Generator) -> str:
        return f"generator {getattr(g, 'name', '?')}"

    def _failed(self, g: Generator, failure: PluginFailure) -> None:
        if not self._failures[id(g)].failed(failure.hung):
            self._report(failure.message)
            return
        self.generators.remove(g)
        self.dropped.append(getattr(g, "name", "?"))
        note = "generator dropped (its sounding notes still end)"
        print(f"kelly-jack: {failure.message}; {note}", file=sys.stderr, flush=True)

    def _reset_all(self) -> None:
        for g in list(self.generators):
            _, failure = self._caller.try_call(self._what(g), g.reset, timeout_s=self.timeout_s, step="reset")
            if failure is not None:
                self._failed(g, failure)

    def close(self) -> None:
        """Let the plugin worker exit."""
        self._caller.close()

    def tick(self, clock: int) -> None:
        """Release queued events whose time has come although no result arrived (client ``clock``)."""
        # a result for a window ending before clock - hop can no longer arrive
        self._release(clock - 2 * self.hop + self.latency)

    def stop(self, frame: int) -> int:
        """End every sounding note at output ``frame`` and release everything; return note-offs queued."""
        n = self.scheduler.all_notes_off(frame)
        self.scheduler.release(1 << 62)
        self._reset_all()
        self.key.reset()
        self._caller.close()  # a later call starts a new worker
        return n

    def _transport_stopped(self, frame: int) -> None:
        self._end_beat = None
        if self._rolling:
            self._rolling = False
            self.scheduler.all_notes_off(frame)
            self._reset_all()

    def _release(self, horizon: int) -> None:
        if horizon > self._horizon:
            self._horizon = horizon
            self.scheduler.release(horizon)
