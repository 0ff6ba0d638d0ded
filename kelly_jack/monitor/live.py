"""Redraws the monitor: in place on a terminal (rich Live), or as a plain frame every few seconds in a log.

``LiveMonitor.update(figures)`` takes a new figures dict (main thread), adds it
to the history and redraws; ``close()`` ends the live display.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.live import Live

from .view import History, frame, plain_text

LOG_EVERY_S = 2.0


class LiveMonitor:
    def __init__(self, source: str, out: TextIO = sys.stdout):
        self.source = source
        self.out = out
        self.history = History()
        self.latest: dict | None = None
        self.received_at = time.monotonic()
        self._live: Live | None = None
        self._logged = float("-inf")
        if out.isatty():
            self._live = Live(console=Console(file=out), auto_refresh=False, redirect_stderr=True)
            self._live.start()

    def update(self, f: dict | None) -> None:
        now = time.monotonic()
        if f is not None:
            self.latest, self.received_at = f, now
            self.history.add(now, float(f["valence"]), float(f["arousal"]))
        if self.latest is None:
            return
        picture = frame(self.latest, self.history, now, self.source, now - self.received_at)
        if self._live is not None:
            self._live.update(picture, refresh=True)
        elif now - self._logged >= LOG_EVERY_S:
            self._logged = now
            print(plain_text(picture), file=self.out, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
