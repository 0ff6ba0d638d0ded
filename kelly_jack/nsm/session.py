"""kelly under NSM: announce, wait for ``open``, keep the state in the session, answer ``save``, report dirt.

``join_session(url, cfg)`` runs on the main thread before any JACK client
exists: it announces kelly, waits for ``/nsm/client/open`` (SIGINT/SIGTERM end
the wait at once), creates or loads ``<path>/kelly.yaml`` and returns the
session's config with the client id as the JACK client name and no
auto-connect patterns (the session manager and its patchbay restore
connections). ``engine.live.run`` then calls ``started`` (the reply to ``open``),
``tick`` every quarter second (dirty/clean, status messages) and
``server_lost``. ``save`` is answered on the receiver thread. Capabilities:
``:dirty:message:`` (no ``:switch:``: a second ``open`` is refused with
ERR_NOT_NOW, the manager restarts kelly instead).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TextIO

import yaml

from ..config import ConfigError
from ..rt import shared_state
from . import protocol as p
from .client import NsmEndpoint, executable_name
from .state import USER_KEYS, SessionState

CAPABILITIES = ":dirty:message:"
ANNOUNCE_PATIENCE_S = 5.0  # no answer for this long: say once that kelly is still waiting


class NsmExit(Exception):  # not a KellyError: control flow that carries NSM's own exit code, never an error line
    """End kelly with exit ``code``; ``str()`` is the one line to print (may be empty)."""

    def __init__(self, code: int, line: str = ""):
        super().__init__(line)
        self.code = code


def _same(a: tuple, b: tuple) -> bool:
    return all(abs(float(x) - float(y)) < 1e-6 for x, y in zip(a, b, strict=True))


class NsmSession:
    """One NSM client life: the endpoint, the open arguments, the state file, the dirty flag."""

    def __init__(self, endpoint: NsmEndpoint, out: TextIO = sys.stderr):
        self.endpoint = endpoint
        self.out = out
        self.manager = ""
        self.refused: str | None = None
        self.open_args: tuple[str, str, str] | None = None
        self.state: SessionState | None = None
        self.client_id = ""
        self.cfg: dict | None = None
        self._answered = threading.Event()  # announce replied to (or refused)
        self._opened = threading.Event()
        self._lock = threading.Lock()  # save (receiver thread) against tick (main thread)
        self._session = None  # engine.live.Session once running
        self._saved: tuple | None = None  # user values as in the state file
        self._dirty = False
        self._seen = None  # the Session the last tick saw (a new one: the server came back)
        self._reloads = (0, 0)

    # --- receiver thread -------------------------------------------------------------------------
    def handle(self, msg: p.Message) -> None:
        a = msg.args
        if msg.address == p.REPLY and a[0] == p.ANNOUNCE:
            self.manager = str(a[2]) if len(a) > 2 else "a session manager"
            self._answered.set()
        elif msg.address == p.ERROR and a[0] == p.ANNOUNCE:
            self.refused = f"{a[2]} ({p.error_name(a[1])})"
            self._answered.set()
            self._opened.set()  # wake the waiter
        elif msg.address == p.OPEN:
            if self.open_args is None:
                self.open_args = (a[0], a[1], a[2])
                self._opened.set()
            else:
                self.endpoint.send(p.ERROR, p.OPEN, p.ERR_NOT_NOW, "kelly-jack cannot switch sessions (no :switch:)")
        elif msg.address == p.SAVE:
            self.save()

    def save(self) -> None:
        """Write the live user values into the state file; reply /reply or /error to the server."""
        with self._lock:
            if self.state is None:
                self.endpoint.send(p.ERROR, p.SAVE, p.ERR_NO_SESSION_OPEN, "kelly-jack: no session is open yet")
                return
            user = self._live() or self._saved
            try:
                self.state.save(user, self.client_id)
            except (OSError, yaml.YAMLError) as e:
                line = f"kelly-jack: NSM save failed: {self.state.file}: {' '.join(str(e).split())}"
                print(line, file=self.out, flush=True)
                self.endpoint.send(p.ERROR, p.SAVE, p.ERR_GENERAL, line)
                return
            self._saved = user
            if self.cfg is not None:  # a reconnect after a server restart starts from the saved values
                values = (float(user[0]), float(user[1]), float(user[2]), bool(user[3]))
                self.cfg["emotion"].update(zip(USER_KEYS, values, strict=True))
            self.endpoint.send(p.REPLY, p.SAVE, f"saved {self.state.file}")
            if self._dirty:
                self._dirty = False
                self.endpoint.send(p.IS_CLEAN)

    # --- main thread -----------------------------------------------------------------------------
    def announce(self, app_name: str) -> None:
        """Send /nsm/server/announce (raises OSError when the server's address cannot be reached)."""
        self.endpoint.start(self.handle)
        self.endpoint.send(
            p.ANNOUNCE, app_name, CAPABILITIES, executable_name(), p.API_MAJOR, p.API_MINOR, os.getpid(), strict=True
        )

    def wait_open(self) -> None:
        """Block until /nsm/client/open; raises NsmExit on SIGINT/SIGTERM (code 0) or a refused announce (1)."""
        quit_ = threading.Event()

        def on_signal(*_):
            quit_.set()
            self._opened.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            started, told = time.monotonic(), False
            while not self._opened.wait(0.1):
                if not told and not self._answered.is_set() and time.monotonic() - started > ANNOUNCE_PATIENCE_S:
                    told = True
                    line = f"kelly-jack: NSM: no answer from {self.endpoint.url} yet; waiting"
                    print(line, file=self.out, flush=True)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        if quit_.is_set():
            raise NsmExit(0, "kelly-jack: stopped before the session opened")
        if self.refused is not None:
            raise NsmExit(1, f"kelly-jack: the session manager refused kelly: {self.refused}")

    def open_config(self, start_cfg: dict) -> dict:
        """The session's config (created from ``start_cfg`` on the first open); /error and raise on failure."""
        path, display, self.client_id = self.open_args
        self.state = SessionState(path)
        if not self.state.exists():
            try:
                self.state.create(start_cfg, self.client_id)
            except (OSError, yaml.YAMLError) as e:
                line = f"kelly-jack: NSM: cannot create {self.state.file}: {' '.join(str(e).split())}"
                self.open_failed(p.ERR_CREATE_FAILED, line)
                raise NsmExit(1, line) from None
            print(f"kelly-jack: NSM: new session state {self.state.file}", file=self.out, flush=True)
        try:
            cfg = self.state.load()
        except ConfigError as e:
            self.open_failed(p.ERR_BAD_PROJECT, f"kelly-jack: {e}")
            raise
        cfg["client"]["name"] = self.client_id
        if cfg["connect"]:
            print(
                f"kelly-jack: NSM: connect patterns of {', '.join(cfg['connect'])} ignored under session management "
                "(the session restores connections)",
                file=self.out,
                flush=True,
            )
            cfg["connect"] = {}
        e = cfg["emotion"]
        self._saved = tuple(e[k] for k in USER_KEYS)
        self.cfg = cfg
        print(
            f"kelly-jack: NSM: session {display!r} of {self.manager or 'a session manager'}: "
            f"client id {self.client_id}, state {self.state.file}",
            file=self.out,
            flush=True,
        )
        return cfg

    def open_failed(self, code: int, line: str) -> None:
        """Answer /nsm/client/open with /error ``code`` (kelly then exits)."""
        self.endpoint.send(p.ERROR, p.OPEN, code, line)

    def started(self, session) -> None:
        """The JACK client is registered and active: answer /nsm/client/open."""
        with self._lock:
            self._session = self._seen = session
        c = session.client
        self.endpoint.send(p.REPLY, p.OPEN, f"kelly-jack: JACK client {c.name} at {session.rate} Hz")
        backend = session.inference.backend
        model = session.cfg["backend"].get("model")
        self.message(1, f"model loaded: backend {backend.name}" + (f" ({model})" if model else ""))

    def tick(self, session, reloader) -> None:
        """Report a change of the user values (dirty/clean), a reload and a server that came back."""
        with self._lock:
            self._session = session
            live = self._live()
            if live is not None and self._saved is not None:
                dirty = not _same(live, self._saved)
                if dirty != self._dirty:
                    self._dirty = dirty
                    self.endpoint.send(p.IS_DIRTY if dirty else p.IS_CLEAN)
        if session is not self._seen:
            self._seen = session
            self.message(2, f"the JACK server is back: client {session.client.name} registered again")
        counts = (reloader.reloads, reloader.refused)
        if counts != self._reloads:
            if counts[0] != self._reloads[0]:
                self.message(1, f"model reloaded: backend {session.inference.backend.name}")
            if counts[1] != self._reloads[1]:
                self.message(2, "model reload refused (see kelly's log); the running model stays")
            self._reloads = counts

    def server_lost(self) -> None:
        self.message(3, "the JACK server went away; kelly waits for it to come back")

    def message(self, priority: int, text: str) -> None:
        """A /nsm/client/message for the session manager's display (priority 0..3, 3 the most important)."""
        self.endpoint.send(p.MESSAGE, priority, text)

    def close(self) -> None:
        self.endpoint.close()

    def _live(self) -> tuple | None:
        if self._session is None:
            return None
        s = self._session.state.state  # plain float reads of what the audio thread took from midi_in
        v, a, b = (float(s[i]) for i in (shared_state.S_USER_V, shared_state.S_USER_A, shared_state.S_BLEND))
        return (v, a, b, bool(s[shared_state.S_ML_ON] > 0.5))


def join_session(url: str, cfg: dict, out: TextIO = sys.stderr) -> tuple[NsmSession | None, dict]:
    """Announce to the NSM server at ``url`` and wait for open; (session, its config) or (None, ``cfg``).

    An unusable or unreachable ``NSM_URL`` means no session management (one warning line), as the API
    asks. Raises NsmExit (signal, refused announce, state not creatable) or ConfigError (a bad state file;
    the server got /error ERR_BAD_PROJECT)."""
    try:
        endpoint = NsmEndpoint(url, out)
    except p.ProtocolError as e:
        print(f"kelly-jack: warning: {e}; running without session management", file=out, flush=True)
        return None, cfg
    nsm = NsmSession(endpoint, out)
    try:
        nsm.announce(cfg["client"]["name"])
    except OSError as e:
        endpoint.close()
        print(
            f"kelly-jack: warning: NSM_URL {url} cannot be reached from 127.0.0.1 ({e.strerror or e}; kelly's NSM "
            "socket is on loopback only); running without session management",
            file=out,
            flush=True,
        )
        return None, cfg
    try:
        nsm.wait_open()
        return nsm, nsm.open_config(cfg)
    except BaseException:
        nsm.close()
        raise
