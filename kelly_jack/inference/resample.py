"""Resampling the live analysis window from the server rate to the analysis rate (inference thread).

A model is trained on features at one analysis rate (``analysis.rate``); when
the JACK server runs at another, the inference thread reads a longer (or
shorter) stretch of the input and resamples it with soxr, so the extractor
sees ``window`` samples at the analysis rate, with the same FFT size and the
same band frequencies, whatever the server's rate.

The stretch is ``guard`` analysis samples longer than the window: soxr's
filter settles at the start of a chunk, and that start is discarded. The end of
the chunk is the newest audio, where the filter sees no future samples; the
Hann window weighs those last samples near zero. Runs on the inference thread
(soxr allocates its output: not audio-thread code).
"""

from __future__ import annotations

import math

import numpy as np

GUARD = 128  # analysis samples of filter settling discarded at the start of each chunk


class WindowResampler:
    """``window`` samples at ``analysis_rate`` from the newest ``source_frames`` frames at ``server_rate``."""

    def __init__(self, server_rate: float, analysis_rate: float, window: int, guard: int = GUARD):
        import soxr

        self._soxr = soxr
        self.server_rate = float(server_rate)
        self.analysis_rate = float(analysis_rate)
        self.window = int(window)
        self.source_frames = int(math.ceil((window + guard) * server_rate / analysis_rate))

    def __call__(self, source: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out[:window]`` (float32) from ``source[:source_frames]`` (float32, mono)."""
        y = self._soxr.resample(source, self.server_rate, self.analysis_rate, quality="HQ")
        n = min(self.window, y.shape[0])
        out[: self.window - n] = 0.0
        out[self.window - n :] = y[y.shape[0] - n :]
