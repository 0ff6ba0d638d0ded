"""What an audio-input backend hears: its window of the input, at its rate, on the analysis hops' grid.

A backend with ``input_kind == "audio"`` names its rate (``audio_rate`` Hz), its
window (``audio_window`` samples at that rate) and its hop (``audio_hop``
samples). The inference thread keeps working on its analysis hops (the
features, the generators and the result cadence stay as they are) and, every
``every`` hops, mixes the newest ``source_frames`` frames of the audio ring to
mono, resamples them to the backend's rate with soxr (``WindowResampler``, as
the feature window) and hands the backend the window that ends at that hop's
last frame. The result is stamped with that frame like any other, so latency,
late accounting, render == live and hot swap hold for these backends too.
``every`` is the backend's hop in analysis hops, rounded, at least 1: a 0.5 s
hop on 1024-frame hops at 48 kHz runs the backend every 23 hops (0.49 s). It runs
on the hops whose index (client frame // hop) is a multiple of ``every``, so a
live run and a render of the same audio hear the same windows; the first window
runs as soon as it is whole (after the start, a gap or a swap).

Built on the main or reload thread (it allocates); ``fill`` runs on the
inference thread. ``ring_frames`` sizes the audio ring so that it holds twice
the longest window the engine reads.
"""

from __future__ import annotations

import numpy as np

from ..engine.state import AUDIO_RING_FRAMES
from ..rt.features import mix_to_mono
from .resample import WindowResampler


class AudioInput:
    """The window plan of one audio-input ``backend`` at ``server_rate`` Hz with ``hop``-frame analysis hops."""

    def __init__(self, backend, server_rate: float, hop: int):
        self.rate = int(backend.audio_rate)
        self.window = int(backend.audio_window)
        self.every = max(1, round(backend.audio_hop * server_rate / backend.audio_rate / hop))
        self.resampler = None if self.rate == server_rate else WindowResampler(server_rate, self.rate, self.window)
        self.source_frames = self.window if self.resampler is None else self.resampler.source_frames
        self.source = np.zeros(self.source_frames, dtype=np.float32)
        self.samples = self.source if self.resampler is None else np.zeros(self.window, dtype=np.float32)

    def fill(self, audio: np.ndarray, end: int, channel: int) -> None:
        """``samples``: the window of the ring ``audio`` whose last frame is position ``end - 1``, mixed
        (``channel``, -1 for all) and resampled. Non-finite samples become 0 (the feature window counts them)."""
        mix_to_mono(audio, end - self.source_frames, self.source_frames, channel, self.source)
        bad = ~np.isfinite(self.source)
        if bad.any():
            self.source[bad] = 0.0
        if self.resampler is not None:
            self.resampler(self.source, self.samples)


def ring_frames(backend, server_rate: float, hop: int) -> int:
    """Audio-ring frames for ``backend``: the default, or the power of two holding twice its window."""
    if getattr(backend, "input_kind", "features") != "audio":
        return AUDIO_RING_FRAMES
    need = 2 * AudioInput(backend, server_rate, hop).source_frames
    return max(AUDIO_RING_FRAMES, 1 << (need - 1).bit_length())
