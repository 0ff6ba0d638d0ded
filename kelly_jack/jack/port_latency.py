"""Reporting kelly's latency L to JACK through port latency ranges (PluginLatencyManager's report).

Registering a latency callback replaces JACK's default propagation, so the
callback sets every port's range itself:

* capture mode: each output (audio and MIDI) gets (min, max) over the capture
  ranges of the *connected* inputs, plus L;
* playback mode: each input gets (min, max) over the playback ranges of the
  connected outputs, plus L.

Unconnected ports report [0, 0] and would drag the minimum down, so they are
left out; with nothing connected the range is [L, L]. JACK calls the callback
on its notification thread (never the audio thread).

Through PipeWire's libjack the ranges are set on a thread of kelly's own
(``off_loop_thread``): PipeWire 0.3.65 (Debian 12) calls the latency callback on
its protocol thread with that thread's lock released, and a range set there is
sent to the server at once, unlocked, so it can interleave with a message the
main thread is sending (a connect, a pretty name): the client aborts or
crashes (seen about once in 200 starts with two auto-connections). From
another thread, libjack queues the update for its protocol thread instead,
which sends it under the lock. Later PipeWire releases run every callback on a
thread of their own for the same reason.
"""

from __future__ import annotations

import queue
import sys
import threading

import jack

from . import latency_api


class PortLatency:
    """Keeps kelly's port latency ranges equal to upstream (or downstream) + L frames.

    ``off_loop_thread``: do the callback's work on a thread of its own instead
    of the thread libjack calls it on (for PipeWire's libjack, see the module
    docstring); ``close`` stops that thread.
    """

    def __init__(
        self,
        client: jack.Client,
        inputs: list[jack.Port],
        outputs: list[jack.Port],
        total: int,
        off_loop_thread: bool = False,
    ):
        self.client = client
        self.inputs = inputs
        self.outputs = outputs
        self.total = total
        self.refused = False
        self._modes: queue.SimpleQueue[int | None] | None = None
        self._worker: threading.Thread | None = None
        callback = self.set_ranges
        if off_loop_thread:
            self._modes = queue.SimpleQueue()
            self._worker = threading.Thread(target=self._work, name="kelly-latency", daemon=True)
            self._worker.start()
            callback = self._modes.put
        try:
            self._handle = latency_api.set_latency_callback(client, callback)
        except jack.JackError as e:
            self._refused(f"{e}; other clients will not see kelly's latency")

    def _refused(self, why: str) -> None:
        if not self.refused:
            print(f"kelly-jack: warning: the server refused the latency API ({why})", file=sys.stderr)
        self.refused = True

    @staticmethod
    def _span(ports: list[jack.Port], mode: int) -> tuple[int, int]:
        ranges = [latency_api.get_range(p, mode) for p in ports if jack._lib.jack_port_connected(p._ptr) > 0]
        if not ranges:
            return 0, 0
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def set_ranges(self, mode: int) -> None:
        """Set the ranges of ``mode`` (latency_api.CAPTURE or PLAYBACK) on kelly's ports, as the callback does."""
        if mode == latency_api.CAPTURE:
            low, high = self._span(self.inputs, mode)
            targets = self.outputs
        else:
            low, high = self._span(self.outputs, mode)
            targets = self.inputs
        for port in targets:
            latency_api.set_range(port, mode, low + self.total, high + self.total)

    def _work(self) -> None:
        while (mode := self._modes.get()) is not None:
            try:
                self.set_ranges(mode)
            except Exception as e:  # a failed update must not end the thread
                print(f"kelly-jack: setting latency ranges failed: {e}", file=sys.stderr)

    def close(self) -> None:
        """Stop the off-loop thread, if any (main thread; before the client is deactivated and closed)."""
        if self._worker is not None:
            self._modes.put(None)
            self._worker.join()
            self._worker = None
