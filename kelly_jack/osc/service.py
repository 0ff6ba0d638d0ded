"""The OSC service: one UDP control socket and one thread (``kelly-osc``).

The thread sends a status bundle (``snapshot.encode``) to every configured
target and live subscriber ``rate_hz`` times a second, and between ticks reads
the control port: user valence/arousal, blend and the ML switch are stored in
the shared state's float64 slots (one aligned 8-byte store each, which the
audio thread reads at its next period; MIDI-in CCs write the same slots, and
the last writer wins), a reload goes to ``ModelReloader.request``. Bad packets
and messages are counted and reported on stderr at most every 5 s; nothing a
sender does raises out of the thread. Never touches the audio thread.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from typing import TextIO

from ..config import ConfigError, where
from . import control, snapshot
from .settings import OscSettings

SUBSCRIPTION_S = 10.0  # a subscriber that does not renew within this is dropped
MAX_SUBSCRIBERS = 16
REPORT_EVERY_S = 5.0
MAX_PACKETS_PER_WAKE = 256  # then send the tick that is due even under a flood


class OscService:
    """Binds the control port at construction (raises ConfigError); ``start`` runs the thread."""

    def __init__(self, settings: OscSettings, cfg: dict, err: TextIO = sys.stderr):
        self.settings = settings
        self.err = err
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.bind((settings.host, settings.port))
        except OSError as e:
            self.sock.close()
            key = "osc.host" if e.errno == 99 else "osc.port"  # EADDRNOTAVAIL: no such local address
            raise ConfigError(
                f"{where(cfg, key)}: {key}: cannot bind UDP {settings.host}:{settings.port}: {e.strerror}"
            ) from None
        self.sock.setblocking(False)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        # targets get the stream from an unbound socket: a loopback-bound one cannot reach other hosts
        self._senders: dict[int, socket.socket] = {}
        self.subscribers: dict[tuple, float] = {}  # sockaddr -> monotonic expiry
        self.session = None  # the engine.live.Session being watched (replaced after a server restart)
        self.reloader = None
        self.bad = 0  # bad packets and messages since start
        self.sent = 0  # status bundles sent (all destinations)
        self.send_errors = 0
        self._unreported = 0
        self._last_report = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        host, port = self.address
        to = ", ".join(self.settings.target_names) or "subscribers only"
        return f"OSC control on {host}:{port}; status at {self.settings.rate_hz:g} Hz to {to}"

    def start(self, session, reloader) -> None:
        self.session, self.reloader = session, reloader
        self._thread = threading.Thread(target=self._run, name="kelly-osc", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sock.close()
        for s in self._senders.values():
            s.close()

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        period = 1.0 / self.settings.rate_hz
        next_tick = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_tick:
                self._tick(now)
                next_tick += period
                if next_tick <= now:  # behind (a stall): skip the missed ticks, never send a burst
                    next_tick = now + period
            try:
                ready, _, _ = select.select([self.sock], [], [], min(max(next_tick - now, 0.0), 0.1))
            except (OSError, ValueError):
                return  # the socket was closed under us (stop)
            if ready:
                self._drain()

    def _drain(self) -> None:
        for _ in range(MAX_PACKETS_PER_WAKE):
            try:
                data, sender = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                self._packet(data, sender)
            except Exception as e:  # a bug here must not end the thread; counted and reported like bad input
                self._bad(sender, f"internal error {type(e).__name__}: {e}")

    def _packet(self, data: bytes, sender: tuple) -> None:
        try:
            messages = control.messages(data)
        except control.BadMessage as e:
            self._bad(sender, str(e))
            return
        for m in messages:
            try:
                self._apply(control.parse(m.address, list(m.params)), sender)
            except control.BadMessage as e:
                self._bad(sender, str(e))

    def _apply(self, cmd: control.Command, sender: tuple) -> None:
        if cmd.kind == "set":
            session = self.session
            if session is not None:
                session.state.state[cmd.slot] = cmd.value
        elif cmd.kind == "reload":
            if self.reloader is not None:
                self.reloader.request()
        else:
            where_to = sender if cmd.value is None else (sender[0], cmd.value, *sender[2:])
            if cmd.kind == "unsubscribe":
                self.subscribers.pop(where_to, None)
            elif where_to in self.subscribers or len(self.subscribers) < MAX_SUBSCRIBERS:
                self.subscribers[where_to] = time.monotonic() + SUBSCRIPTION_S
            else:
                raise control.BadMessage(f"/kelly/subscribe: already {MAX_SUBSCRIBERS} subscribers")

    def _bad(self, sender: tuple, why: str) -> None:
        self.bad += 1
        self._report(f"OSC message from {sender[0]}:{sender[1]} ignored: {why}")

    def _report(self, text: str) -> None:
        """Print ``text`` unless a report went out less than REPORT_EVERY_S ago (then count it)."""
        self._unreported += 1
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S:
            more = f" ({self._unreported - 1} more since the last report)" if self._unreported > 1 else ""
            print(f"kelly-jack: {text}{more}", file=self.err, flush=True)
            self._last_report, self._unreported = now, 0

    def _tick(self, now: float) -> None:
        session = self.session
        if session is None:
            return
        for addr in [a for a, expiry in self.subscribers.items() if expiry < now]:
            del self.subscribers[addr]
        try:
            data = snapshot.encode(snapshot.collect(session, self.reloader, self.bad))
        except Exception as e:  # e.g. a session being torn down during a server restart
            self._report(f"OSC status not sent: {type(e).__name__}: {e}")
            return
        for family, addr in self.settings.targets:
            self._send(self._sender(family), data, addr)
        for addr in list(self.subscribers):
            self._send(self.sock, data, addr)

    def _sender(self, family: int) -> socket.socket:
        s = self._senders.get(family)
        if s is None:
            s = self._senders[family] = socket.socket(family, socket.SOCK_DGRAM)
            s.setblocking(False)
        return s

    def _send(self, sock: socket.socket, data: bytes, addr: tuple) -> None:
        try:
            sock.sendto(data, addr)
            self.sent += 1
        except OSError:  # a full buffer or an unreachable target: the next tick tries again
            self.send_errors += 1


def open_osc(cfg: dict, err: TextIO = sys.stderr) -> OscService | None:
    """The OSC service of ``cfg`` with its port bound, or None when ``osc.enabled`` is false; raises ConfigError."""
    if not cfg["osc"]["enabled"]:
        return None
    return OscService(OscSettings.from_config(cfg), cfg, err)
