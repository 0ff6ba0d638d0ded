"""The live engine driven by audio blocks instead of JACK (what ``kelly-jack render`` runs).

``OfflineEngine`` builds exactly what ``engine.live.Session`` builds (shared state,
parameters, inference manager, generator runner) and turns the audio kernel
(``jack.process.process_period``) to its offline mode: each block is the
input of one period of ``block`` frames, midi_out goes to a sink instead of a
port, and inference runs synchronously after each period, so no result is
ever late. With the same config, rate, period size and input, a live run in
which no result is late sends the same events at the same client frames.

Tempo is the internal clock (there is no JACK transport offline). One
thread; nothing here is real-time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backends import Backend
from ..config import plugin_limits
from ..engine.latency import LatencyManager
from ..engine.state import SharedState, configure_params
from ..inference import InferenceThreadManager
from ..inference.audio_input import ring_frames
from ..inference.mapping import emotion_mapping
from ..jack.process import process_period
from ..midi.runner import GeneratorRunner
from ..midi.scheduler import EventScheduler
from ..midi.tempo import InternalClock
from ..rt import midi_events, shared_state


@dataclass
class Timeline:
    """One row per result: the client frame ending its window, valence, arousal (and its features if kept)."""

    frames: list[int] = field(default_factory=list)
    valence: list[float] = field(default_factory=list)
    arousal: list[float] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)


class _Observer:
    """Sits where the generator runner sits in the inference manager: records, then forwards."""

    def __init__(self, runner: GeneratorRunner | None, timeline: Timeline, keep_features, inference=None):
        self.runner, self.timeline, self.keep_features, self.inference = runner, timeline, keep_features, inference

    def after_result(self, frame: int, valence: float, arousal: float, dominance=None, features=None) -> None:
        t = self.timeline
        t.frames.append(int(frame))
        t.valence.append(float(valence))
        t.arousal.append(float(arousal))
        if self.keep_features:
            t.features.append(self.inference.features.copy())
        if self.runner is not None:
            self.runner.after_result(frame, valence, arousal, dominance, features)

    def tick(self, clock: int) -> None:
        if self.runner is not None:
            self.runner.tick(clock)


class OfflineEngine:
    """kelly without JACK: ``rate`` Hz, ``channels`` inputs, periods of ``block`` frames (1..8192)."""

    def __init__(
        self,
        cfg: dict,
        backend: Backend,
        generators: list,
        rate: int,
        channels: int,
        block: int = 128,
        keep_features: bool = False,
    ):
        if not 1 <= block <= shared_state.OFFLINE_BLOCK:
            raise ValueError(f"block must be 1..{shared_state.OFFLINE_BLOCK} frames, got {block}")
        self.rate, self.block = rate, block
        self.latency = LatencyManager.from_config(cfg["latency"]).frames(rate)
        frames = ring_frames(backend, rate, cfg["analysis"]["hop"])  # an audio-input backend's window fits
        self.state = SharedState(channels, audio_frames=frames, outputs=False, latency=self.latency)
        self.state.go_offline()
        configure_params(self.state, cfg, rate, self.latency, -1)
        self.timeline = Timeline()
        self.runner = None
        if generators:
            t = cfg["tempo"]
            e = cfg["emotion"]
            self.runner = GeneratorRunner(
                generators,
                EventScheduler(self.state.event_hdr, self.state.events),
                rate,
                self.latency,
                cfg["analysis"]["hop"],
                InternalClock(t["bpm"], t["beats_per_bar"], t["nudge"]),
                e["smoothing_ms"] * rate / 1000.0,
                lambda: (e["user_valence"], e["user_arousal"], e["blend"], e["ml_enabled"]),
                **plugin_limits(cfg),
            )
        observer = _Observer(self.runner, self.timeline, keep_features)
        a = cfg["analysis"]
        self.inference = InferenceThreadManager(
            self.state,
            backend,
            a["window"],
            a["hop"],
            a["channel"],
            -1,
            rate=rate,
            analysis_rate=a["rate"],
            generators=observer,
            **plugin_limits(cfg),
        )
        observer.inference = self.inference
        self.inference.set_inference_function(backend, emotion_mapping(cfg["emotion"]["mapping"], backend))
        self.inference.warm_up()
        self.inference.begin()
        self.events: list[np.ndarray] = []  # (frame, packed) rows, in output order

    @property
    def clock(self) -> int:
        """Client frames processed so far."""
        return int(self.state.counters[shared_state.C_CLOCK])

    def _period(self, chunk: np.ndarray) -> None:
        n = chunk.shape[0]
        self.state.offline_in[:, :n] = chunk.T
        process_period(n, self.state.table)
        self.inference.process_available()
        if self.runner is not None:
            self.runner.tick(self.clock)
        rows = self.state.take_offline_midi()
        if rows.shape[0]:
            self.events.append(rows)

    def feed(self, audio: np.ndarray) -> None:
        """Process ``audio`` (frames x channels, float32) in periods of ``block`` frames.

        A last period shorter than ``block`` is zero-padded only by ``finish``;
        keep feeding multiples of ``block`` to match a live run exactly.
        """
        audio = np.asarray(audio, dtype=np.float32)
        for i in range(0, audio.shape[0], self.block):
            chunk = audio[i : i + self.block]
            if chunk.shape[0] < self.block:
                chunk = np.concatenate([chunk, np.zeros((self.block - chunk.shape[0], chunk.shape[1]), np.float32)])
            self._period(chunk)

    def finish(self, tail: int | None = None) -> None:
        """Play ``tail`` frames of silence (default: latency + window) so the last results come out,
        then end every note, as a live client does when it stops."""
        channels = self.state.channels
        tail = self.latency + self.inference.window if tail is None else tail
        silence = np.zeros((self.block, channels), dtype=np.float32)
        for _ in range(-(-tail // self.block)):
            self._period(silence)
        if self.runner is not None:
            self.runner.stop(self.clock)
            while self.runner.scheduler.in_ring or self.runner.scheduler.pending:
                self._period(silence)

    def event_list(self) -> list[tuple[int, bytes]]:
        """Every midi_out event so far as (client frame, message bytes)."""
        rows = np.concatenate(self.events) if self.events else np.zeros((0, 2), dtype=np.int64)
        out = []
        for frame, packed in rows:
            size = int(midi_events.message_size(packed))
            out.append((int(frame), bytes(int(midi_events.message_byte(packed, i)) for i in range(size))))
        return out
