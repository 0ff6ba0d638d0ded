"""Isolating plugins: a backend or generator that raises, hangs or returns garbage.

The inference thread never calls plugin code itself. ``PluginCaller.call``
hands the call to a worker thread and waits for it up to a deadline; a call
that overruns is abandoned with its worker (Python cannot stop a thread, so
the worker finishes on its own, if ever, and its result is thrown away) and
the next call gets a fresh worker. The inference thread therefore keeps its
hop rhythm, keeps releasing queued note-offs and stays stoppable, whatever a
plugin does.

``PluginCaller.try_call`` is the one place a failed call (an exception or a
timeout) becomes a ``PluginFailure`` with its message; ``FailureTracker``
decides when a plugin has failed for good: at once when it hangs, or after
``max_failures`` failures in a row (``FailureReport`` writes the messages of
the failures before that at a bounded rate). Then the inference thread
swaps the backend for ``HoldLastBackend`` (the last good output, for ever) and
the generator runner drops the generator.

Runs on: the inference thread (callers), worker threads named ``kelly-plugin``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..backends.base import EMOTIONS, BackendBase


class PluginTimeout(Exception):  # not a KellyError: the guard's own signal, always caught and counted
    """A plugin call did not return within its deadline (the call is abandoned)."""


class PluginFailure(NamedTuple):
    """One failed plugin call: a message naming the plugin and what went wrong; ``hung`` if it timed out."""

    message: str
    hung: bool


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

    def try_call(
        self, what: str, fn: Callable, *args: Any, timeout_s: float, step: str = ""
    ) -> tuple[Any, PluginFailure | None]:
        """``call`` that returns its failure instead of raising it: ``(result, None)`` or ``(None, failure)``.

        ``what`` names the plugin in the message ("backend onnx"), ``step`` the call when it is not the
        plugin's main one ("reset"). Any Exception (not BaseException) the plugin raises is a failure.
        """
        try:
            return self.call(fn, *args, timeout_s=timeout_s), None
        except PluginTimeout as e:
            return None, PluginFailure(f"{what} hangs{' in ' + step if step else ''}: {e}", True)
        except Exception as e:  # a plugin must never stop the client
            return None, PluginFailure(f"{what}{' ' + step if step else ''} raised {type(e).__name__}: {e}", False)

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


class FailureReport:
    """Writes the messages of failures that did not replace their plugin to stderr, one at most every
    ``every_s`` seconds (the others are only counted), each followed by ``tail``."""

    def __init__(self, tail: str, every_s: float = 5.0):
        self.tail = tail
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            print(f"kelly-jack: {message} {self.tail}", file=sys.stderr, flush=True)


class HoldLastBackend(BackendBase):
    """The stand-in for a backend that failed for good: its last good outputs, for ever.

    Neutral (all zero: the grid's centre, or valence = arousal = 0) when it
    never gave a good one. It takes features, whatever the backend it replaces heard.
    """

    def __init__(self, replaced: str, last_good: np.ndarray | None, output_kind: str = "grid"):
        self.name = f"hold-last (replacing {replaced})"
        self.output_kind = output_kind  # a valence/arousal backend's stand-in holds valence/arousal
        neutral = np.zeros(2 if output_kind == "valence_arousal" else EMOTIONS)
        self._y = neutral if last_good is None else np.array(last_good, dtype=np.float64)
        self.output_size = self._y.shape[0]

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._y
