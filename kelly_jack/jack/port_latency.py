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
"""

from __future__ import annotations

import sys

import jack

from . import latency_api


class PortLatency:
    """Keeps kelly's port latency ranges equal to upstream (or downstream) + L frames."""

    def __init__(self, client: jack.Client, inputs: list[jack.Port], outputs: list[jack.Port], total: int):
        self.client = client
        self.inputs = inputs
        self.outputs = outputs
        self.total = total
        self.refused = False
        try:
            self._handle = latency_api.set_latency_callback(client, self._callback)
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

    def _callback(self, mode: int) -> None:
        if mode == latency_api.CAPTURE:
            low, high = self._span(self.inputs, mode)
            targets = self.outputs
        else:
            low, high = self._span(self.outputs, mode)
            targets = self.inputs
        for port in targets:
            latency_api.set_range(port, mode, low + self.total, high + self.total)

    def set_total(self, frames: int) -> None:
        """Change L and have the server recompute every range (main thread)."""
        self.total = frames
        if not self.refused and not latency_api.recompute_total_latencies(self.client):
            self._refused("jack_recompute_total_latencies failed")
