"""The NSM client's OSC endpoint: one UDP socket on loopback, a receiver thread, replies from the same socket.

The API has the server tell clients apart by the return address of
``announce``, so every message (announce, replies, dirty/clean, status
messages) goes out of this one socket. It binds to 127.0.0.1 only: nothing off
this machine can open, save or probe kelly. Received messages are decoded on
the receiver thread and handed to ``handler(message)``; malformed ones are
reported (one line, rate-limited) and dropped. Never runs on the audio thread.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from . import protocol as p

LOOPBACK = "127.0.0.1"


class NsmEndpoint:
    """UDP endpoint talking to the NSM server at ``NSM_URL``; raises ProtocolError for an unusable URL.

    ``start(handler)`` runs the receiver thread; ``send(address, *args)`` is thread-safe and never raises
    (a failed send is reported on ``out``: the session manager may be gone, kelly keeps running).
    """

    def __init__(self, url: str, out: TextIO = sys.stderr):
        self.url = url
        self.server = p.resolve(*p.parse_url(url))
        self.out = out
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.05)  # the receiver thread looks at _stop this often (close waits for it)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_complaint = 0.0

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, address: str, *args: str | int | float, strict: bool = False) -> bool:
        """Send one message to the server; False (and one line on ``out``) if it could not be sent.

        With ``strict`` the OSError is raised instead (announce: an unreachable server means no session)."""
        data = p.encode(address, *args)
        try:
            with self._lock:
                self.sock.sendto(data, self.server)
            return True
        except OSError as e:
            if strict:
                raise
            print(f"kelly-jack: NSM: cannot send {address}: {e}", file=self.out, flush=True)
            return False

    def start(self, handler: Callable[[p.Message], None]) -> None:
        self._thread = threading.Thread(target=self._receive, args=(handler,), name="kelly-nsm", daemon=True)
        self._thread.start()

    def _receive(self, handler: Callable[[p.Message], None]) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if not data:
                continue
            try:
                msg = p.check(p.decode(data))
            except p.ProtocolError as e:
                self._complain(f"kelly-jack: NSM: ignored a message: {e}")
                continue
            try:
                handler(msg)
            except Exception as e:  # a bug in handling one message must not end the session
                self._complain(f"kelly-jack: NSM: error handling {msg.address}: {type(e).__name__}: {e}")

    def _complain(self, line: str) -> None:
        now = time.monotonic()
        if now - self._last_complaint >= 1.0:  # a flood of garbage prints one line a second
            self._last_complaint = now
            print(line, file=self.out, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
        self.sock.close()


def executable_name(argv0: str | None = None) -> str:
    """The name kelly was launched as (``argv[0]``'s base name); ``kelly-jack`` when run as ``python -m``.

    The session manager starts the client again by this name when the session is reopened.
    """
    name = os.path.basename(argv0 if argv0 is not None else sys.argv[0])
    return "kelly-jack" if not name or name.endswith(".py") or name.startswith("python") else name
