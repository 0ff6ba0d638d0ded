"""Isolating plugins: a backend or generator that raises, hangs or returns garbage.

The inference thread never calls plugin code itself. ``PluginCaller.call``
hands the call to a worker thread and waits for it up to a deadline; a call
that overruns is abandoned with its worker (Python cannot stop a thread, so
the worker finishes on its own, if ever, and its result is thrown away) and
the next call gets a fresh worker. The inference thread therefore keeps its
hop rhythm, keeps releasing queued note-offs and stays stoppable, whatever a
plugin does.

``FailureTracker`` decides when a plugin has failed for good: at once when it
hangs, or after ``max_failures`` failures in a row. The inference thread then
swaps the backend for ``HoldLastBackend`` (the last good output, for ever) and
the generator runner drops the generator.

Runs on: the inference thread (callers), worker threads named ``kelly-plugin``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backends.base import EMOTIONS, BackendBase


class PluginTimeout(Exception):
    """A plugin call did not return within its deadline (the call is abandoned)."""


class _Worker:
    """One daemon thread that runs one call at a time."""

    def __init__(self):
        self.go = threading.Event()
        self.done = threading.Event()
        self.request: tuple[Callable, tuple] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.elapsed_ns = 0
        self.abandoned = False
        self.thread = threading.Thread(target=self._loop, name="kelly-plugin", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            self.go.wait()
            self.go.clear()
            if self.request is None:  # closed
                return
            fn, args = self.request
            t0 = time.perf_counter_ns()
            try:
                self.result, self.error = fn(*args), None
            except BaseException as e:  # noqa: BLE001 - handed to the caller, whatever it is
                self.result, self.error = None, e
            self.elapsed_ns = time.perf_counter_ns() - t0
            self.done.set()
            if self.abandoned:
                return


class PluginCaller:
    """Runs plugin calls on a worker thread, each with a deadline.

    Not thread-safe: one caller thread (the inference thread, or the offline
    renderer's thread) uses it.
    """

    def __init__(self):
        self._worker: _Worker | None = None
        self.elapsed_us = 0  # of the last call that returned, measured on the worker
        self.abandoned = 0  # calls given up on (workers left behind)

    def call(self, fn: Callable, *args: Any, timeout_s: float) -> Any:
        """``fn(*args)`` on the worker; its result, or its exception re-raised.

        Raises PluginTimeout when it runs longer than ``timeout_s`` seconds.
        """
        w = self._worker
        if w is None:
            w = self._worker = _Worker()
        w.request = (fn, args)
        w.done.clear()
        w.go.set()
        if not w.done.wait(timeout_s):
            w.abandoned = True
            self._worker = None
            self.abandoned += 1
            raise PluginTimeout(f"no answer within {timeout_s * 1000.0:.0f} ms")
        self.elapsed_us = w.elapsed_ns // 1000
        result, error = w.result, w.error
        w.result = w.error = None
        if error is not None:
            raise error
        return result

    def close(self) -> None:
        """Let the idle worker exit (an abandoned one exits when its call returns)."""
        w, self._worker = self._worker, None
        if w is not None:
            w.request = None
            w.go.set()


class FailureTracker:
    """Counts failures in a row; ``failed(hung)`` is True when the plugin is to be replaced."""

    def __init__(self, max_failures: int):
        self.max_failures = max_failures
        self.in_a_row = 0

    def ok(self) -> None:
        self.in_a_row = 0

    def failed(self, hung: bool = False) -> bool:
        self.in_a_row += 1
        return hung or self.in_a_row >= self.max_failures


class HoldLastBackend(BackendBase):
    """The stand-in for a backend that failed for good: its last good 64 outputs, for ever.

    Neutral logits (all zero: the grid's centre, valence = arousal = 0) when it
    never gave a good one.
    """

    def __init__(self, replaced: str, last_good: np.ndarray | None):
        self.name = f"hold-last (replacing {replaced})"
        self._y = np.zeros(EMOTIONS) if last_good is None else np.array(last_good, dtype=np.float64)

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._y
