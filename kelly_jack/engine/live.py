"""One run of kelly-jack against a JACK server: wiring, the main loop, shutdown.

``Session`` builds the shared state, the backend, the JACK client and the
inference thread from a validated config; ``run()`` activates them, waits for
a signal, the duration or the server going away, then shuts down in the only
safe order: inference thread (and every other GIL user) first, then
deactivate/close. Main thread only.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TextIO

from ..backends import Backend
from ..config import describe_source, input_names, output_names, plugin_limits
from ..inference import InferenceThreadManager
from ..inference.audio_input import ring_frames
from ..inference.budget import budget_warning
from ..inference.mapping import emotion_mapping
from ..jack.client import KellyJackClient, ServerNotRunning
from ..midi.runner import GeneratorRunner
from ..midi.scheduler import EventScheduler
from ..midi.tempo import InternalClock
from ..rt import shared_state
from .latency import LatencyManager
from .reload import ModelReloader
from .report import figures, status_line, summary
from .state import SharedState, configure_params


class Session:
    """kelly on one JACK server. Raises ServerNotRunning if there is none."""

    def __init__(self, cfg: dict, backend: Backend, generators: list | None = None):
        self.cfg = cfg
        names = input_names(cfg)
        ports = cfg["ports"]
        self.client = KellyJackClient(
            cfg["client"]["name"],
            cfg["client"]["server"],
            names,
            ports["midi_out"],
            ports["midi_in"],
            output_names(cfg),
        )
        self.rate = self.client.samplerate
        self.latency = LatencyManager.from_config(cfg["latency"]).frames(self.rate)
        frames = ring_frames(backend, self.rate, cfg["analysis"]["hop"])  # an audio-input backend's window fits
        self.state = SharedState(len(names), audio_frames=frames, outputs=ports["outputs"], latency=self.latency)
        self.wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        configure_params(self.state, cfg, self.rate, self.latency, self.wake_fd)
        self.runner = self._generator_runner(generators or [])
        self.inference = InferenceThreadManager(
            self.state,
            backend,
            cfg["analysis"]["window"],
            cfg["analysis"]["hop"],
            cfg["analysis"]["channel"],
            self.wake_fd,
            rate=self.rate,
            analysis_rate=cfg["analysis"]["rate"],
            generators=self.runner,
            **plugin_limits(cfg),
        )
        self.inference.set_inference_function(backend, emotion_mapping(cfg["emotion"]["mapping"], backend))
        self.inference.warm_up()
        budget = LatencyManager.from_config(cfg["latency"]).budget_frames(self.rate)
        self.budget_warning = budget_warning(backend, budget, self.rate)  # said with the start line
        self.blocksize = self.client.blocksize
        self.connections: list[tuple[str, str]] = []  # as of the last look, to restore after a restart
        self.pending: list[tuple[str, str]] = []  # remembered connections not made again yet
        self._stopped = False

    def _generator_runner(self, generators: list) -> GeneratorRunner | None:
        if not generators:
            return None
        from ..jack.transport import TransportClock

        t = self.cfg["tempo"]
        tempo = InternalClock(t["bpm"], t["beats_per_bar"], t["nudge"])
        if t["follow_transport"]:
            tempo = TransportClock(self.client.client, self.state.counters, self.latency, tempo)
        s = self.state.state

        def user():  # what the audio thread last took from midi_in (plain float reads)
            return (
                s[shared_state.S_USER_V],
                s[shared_state.S_USER_A],
                s[shared_state.S_BLEND],
                s[shared_state.S_ML_ON] > 0.5,
            )

        return GeneratorRunner(
            generators,
            EventScheduler(self.state.event_hdr, self.state.events),
            self.rate,
            self.latency,
            self.cfg["analysis"]["hop"],
            tempo,
            self.cfg["emotion"]["smoothing_ms"] * self.rate / 1000.0,
            user,
            **plugin_limits(self.cfg),
        )

    def start(self) -> list[str]:
        """Register callbacks, start inference, activate, patch; return patching warnings.

        Inference starts first so it takes the very first window, as the offline render does.
        """
        self.client.attach(self.state, self.latency, self.cfg["client"]["audio_thread"])
        self.inference.start()
        warnings = self.client.activate(self.cfg["connect"], self.cfg["ports"]["pretty_names"])
        return warnings + ([self.budget_warning] if self.budget_warning else [])

    def restore_pending(self) -> None:
        """Make the remembered connections whose ports exist now (peers come back after kelly, or never)."""
        try:
            names = {p.name for p in self.client.client.get_ports()}
        except Exception:
            return
        ready = [(a, b) for a, b in self.pending if a in names and b in names]
        if not ready:
            return
        made, failed = self.client.restore_connections(ready)
        self.pending = [pair for pair in self.pending if pair not in ready]  # tried once both ports exist
        lost = f", {', '.join(f'{a} -> {b}' for a, b in failed)} refused" if failed else ""
        left = f", {len(self.pending)} to go" if self.pending else ""
        print(f"kelly-jack: {made} connection(s) restored{lost}{left}", file=sys.stderr, flush=True)

    def remember_connections(self) -> None:
        """Note every connection of kelly's ports (full names), to restore them after a server restart."""
        try:
            self.connections = self.client.connections()
        except Exception:  # the server may be going away right now; keep the last good list
            pass

    def stop(self) -> None:
        """Inference thread first, then end every note, then deactivate and close (see KellyJackClient.close).

        Safe to call twice and after the server went away."""
        if self._stopped:
            return
        self._stopped = True
        self.inference.stop()
        if self.runner is not None and not self.client.server_gone.is_set():
            # the note-offs are stamped SHUTDOWN_MARGIN_S after the next period: between reading the clock
            # and queuing them this Python thread can lose more than a period (2.7 ms at 128 frames) to the
            # GIL or the scheduler, and note-offs stamped for the next period then arrived late (the
            # harmony test saw 3 late in xrun-free runs); wait (bounded) until the audio thread took them
            margin = int(SHUTDOWN_MARGIN_S * self.rate)
            self.runner.stop(int(self.state.counters[shared_state.C_CLOCK]) + self.blocksize + margin)
            deadline = time.monotonic() + 0.5
            while self.runner.scheduler.in_ring and time.monotonic() < deadline:
                time.sleep(0.005)
            # taken is not yet delivered: let the cycle that wrote them reach the clients downstream
            time.sleep(3.0 * self.blocksize / self.rate)
        self.client.close()
        os.close(self.wake_fd)

    def figures(self) -> dict[str, float]:
        return figures(self.state, self.inference)


SHUTDOWN_MARGIN_S = 0.02  # how far ahead of the audio thread the shutdown note-offs are stamped
STALL_S = 2.0  # no period for this long: the server is gone (PipeWire's libjack never calls the shutdown callback)
RETRY_S = (0.05, 0.1, 0.2, 0.4)  # backoff between reconnection attempts, then the last one again


def _announce(session: Session, out: TextIO, what: str = "client") -> None:
    c = session.client
    print(
        f"kelly-jack: {what} {c.name!r} on {('server ' + repr(c.server)) if c.server else 'the default server'}"
        f" at {session.rate} Hz, {c.blocksize} frames/period; latency {session.latency} frames "
        f"({1000.0 * session.latency / session.rate:.1f} ms); backend {session.inference.backend.name}; "
        f"audio thread {session.cfg['client']['audio_thread']}; config {describe_source(session.cfg)}",
        file=out,
        flush=True,
    )


def _reconnect(cfg: dict, session: Session, generators: list | None, stop: threading.Event) -> Session | None:
    """Wait for a server under the same name and start kelly on it again (the current model, the same
    ports, the auto-connect patterns, then the connections it had by full port name); None if stopped."""
    backend = session.inference.backend
    attempt = 0
    while not stop.wait(RETRY_S[min(attempt, len(RETRY_S) - 1)]):
        attempt += 1
        try:
            new = Session(cfg, backend, generators)
        except ServerNotRunning:
            continue
        for g in generators or ():
            g.reset()
        for w in new.start():
            print(f"kelly-jack: warning: {w}", file=sys.stderr)
        restored, new.pending = new.client.restore_connections(session.connections)
        print(
            f"kelly-jack: the server is back; {restored} of {len(session.connections)} connections restored"
            + (", the others as their ports appear" if restored < len(session.connections) else ""),
            file=sys.stderr,
            flush=True,
        )
        return new
    return None


# --- OSC and the live monitor (kelly_jack/osc, kelly_jack/monitor)
def _start_extras(session: Session, reloader: ModelReloader, control, monitor: bool, out: TextIO):
    """Start the OSC thread (if any) and the live monitor (if asked); return the monitor or None."""
    if control is not None:
        control.start(session, reloader)
        print(f"kelly-jack: {control.describe()}", file=out, flush=True)
    if not monitor:
        return None
    from ..monitor.live import LiveMonitor

    return LiveMonitor(f"client {session.client.name!r} (this process)", out)


def _monitor_figures(session: Session, reloader: ModelReloader, control) -> dict:
    from ..osc.snapshot import collect

    return collect(session, reloader, control.bad if control is not None else 0)


def run(
    cfg: dict,
    backend: Backend,
    duration: float | None,
    status: bool,
    out: TextIO = sys.stdout,
    generators: list | None = None,
    control=None,
    monitor: bool = False,
    nsm=None,
) -> int:
    """Run until SIGINT/SIGTERM or ``duration`` seconds; SIGHUP reloads the model.

    ``control`` is the bound ``osc.OscService`` (or None): its thread starts with the session and
    follows it across server restarts. ``monitor`` draws the live monitor on ``out`` instead of
    the ``status`` line.

    When the server goes away (its shutdown callback, or no period for ``STALL_S``), kelly keeps
    running, waits for a server of the same name with backoff, and starts on it again (with
    ``client.reconnect: false`` it stops instead, exit code 1). Returns an exit code.
    ``nsm`` (an ``nsm.NsmSession`` or None) is told when kelly has started, every tick, and when the
    server is lost.
    """
    session = Session(cfg, backend, generators)
    stop = threading.Event()
    reloader = ModelReloader(cfg, session.inference)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: reloader.request())
    reloader.start()
    lost = 0
    view = None
    try:
        for w in session.start():
            print(f"kelly-jack: warning: {w}", file=sys.stderr)
        _announce(session, out)
        view = _start_extras(session, reloader, control, monitor, out)
        if nsm is not None:  # NSM: the reply to /nsm/client/open
            nsm.started(session)
        deadline = time.monotonic() + duration if duration else None
        # on a terminal the status line redraws in place; in a log, one line a second
        tty = out.isatty()
        ticks = 0
        periods, moved = -1, time.monotonic()
        while not stop.wait(0.25):
            if deadline and time.monotonic() >= deadline:
                break
            ticks += 1
            if nsm is not None:  # NSM: dirty/clean and status messages
                nsm.tick(session, reloader)
            now_periods = int(session.state.counters[shared_state.C_PERIODS])
            if now_periods != periods:
                periods, moved = now_periods, time.monotonic()
            if session.pending:
                session.restore_pending()
            elif ticks % 4 == 0:
                session.remember_connections()
            if session.client.server_gone.is_set() or time.monotonic() - moved > STALL_S:
                session.client.server_gone.set()  # a stalled server is treated as gone: no deactivate
                lost += 1
                print("kelly-jack: the JACK server went away", file=sys.stderr, flush=True)
                if nsm is not None:
                    nsm.server_lost()
                if not cfg["client"]["reconnect"]:
                    break
                session.stop()
                new = _reconnect(cfg, session, generators, stop)
                if new is None:
                    return 0
                session = new
                reloader.inference = session.inference
                if control is not None:
                    control.session = session
                _announce(session, out, "reconnected: client")
                periods, moved = -1, time.monotonic()
                continue
            if view is not None:
                view.update(_monitor_figures(session, reloader, control))
            elif status and (tty or ticks % 4 == 0):
                line = status_line(session.figures(), session.rate, session.latency)
                print("\r" + line if tty else line, end="" if tty else "\n", file=out, flush=True)
        if status and tty:
            print(file=out)
    finally:
        if control is not None:
            control.stop()  # a GIL user reading the session: before deactivate/close
        if view is not None:
            view.close()
        reloader.stop()
        session.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(summary(session.figures(), session.rate, session.blocksize, session.latency), file=out, flush=True)
    if lost:
        print(f"kelly-jack: the server went away {lost} time(s)", file=out, flush=True)
    return 1 if session.client.server_gone.is_set() else 0
