"""Following JACK transport: musical position from the timebase master's BBT.

``TransportClock.position`` is asked by the generator runner (control
thread, never the audio thread; ``jack_transport_query`` is safe there). When
the transport rolls and a timebase master publishes BBT, the tempo, meter and
beat come from it; when it is stopped with a timebase master present, the
generators are told it is not rolling (they fall silent and their notes end);
without a timebase master kelly keeps its internal clock. kelly never becomes
timebase master itself.

Latency: a host that compensates kelly's reported latency L plays kelly's
output frame ``f`` together with its own transport time ``f - L``, so that is
the position a note at ``f`` is placed against.
"""

from __future__ import annotations

import jack
import numpy as np

from ..midi.tempo import InternalClock, Position
from ..rt import shared_state


class TransportClock:
    """Position from JACK transport, else from ``fallback`` (an InternalClock)."""

    def __init__(self, client: jack.Client, counters: np.ndarray, latency: int, fallback: InternalClock):
        self.client, self.counters, self.latency, self.fallback = client, counters, latency, fallback

    def position(self, frame: int, rate: int, arousal: float = 0.0) -> Position:
        state, pos = self.client.transport_query()
        if "beats_per_minute" not in pos or pos["beats_per_minute"] <= 0:
            return self.fallback.position(frame, rate, arousal)  # no timebase master
        bpm, per_bar = float(pos["beats_per_minute"]), float(pos["beats_per_bar"])
        if state != jack.ROLLING:
            return Position(bpm, 0.0, per_bar, False)
        beat_now = (pos["bar"] - 1) * per_bar + (pos["beat"] - 1) + pos["tick"] / pos["ticks_per_beat"]
        now = int(self.counters[shared_state.C_CLOCK])  # kelly's frame count, read without a lock (int64)
        beat = beat_now + (frame - self.latency - now) * bpm / (60.0 * rate)
        return Position(bpm, beat, per_bar, True)
