"""The preallocated state shared by the audio thread, the inference thread and the CLI.

``SharedState`` allocates every array the audio callback touches, once, before
the client is activated, and builds the int64 *table* of their addresses that
the callback receives as its ``void *arg``. The arrays live as long as this
object; keep it alive for as long as the callback may run.
"""

from __future__ import annotations

import numpy as np

from .rt import ring
from .rt.histogram import HIST_BINS, new_histogram
from .rt.layout import (
    N_COUNTERS,
    N_PARAMS,
    N_STATE,
    RECORD_WIDTH,
    S_BLEND,
    S_ML_ON,
    S_SENT_A,
    S_SENT_V,
    S_USER_A,
    S_USER_V,
    T_AUDIO_CAPACITY,
    T_AUDIO_DATA,
    T_AUDIO_HDR,
    T_CHANNELS,
    T_COUNTERS,
    T_HIST,
    T_HIST_BINS,
    T_PARAMS,
    T_PORTS,
    T_RESULT_CAPACITY,
    T_RESULT_DATA,
    T_RESULT_HDR,
    T_SCRATCH,
    T_STATE,
    TABLE_SIZE,
)

AUDIO_RING_FRAMES = 1 << 17  # 2.7 s at 48 kHz: room for a stalled inference thread
RESULT_RING_RECORDS = 256


def _address(array: np.ndarray) -> int:
    return int(array.ctypes.data)


class SharedState:
    """Owns the audio-thread state arrays and the address table.

    Created on the main thread; after activation the audio thread writes
    ``counters``, ``state`` and ``hist``, the inference thread writes the result
    ring and reads the audio ring, everyone else only reads.
    """

    def __init__(self, channels: int, audio_frames: int = AUDIO_RING_FRAMES, results: int = RESULT_RING_RECORDS):
        self.channels = channels
        self.ports = np.zeros(channels + 2, dtype=np.int64)
        self.audio_hdr = ring.new_header(audio_frames)
        self.audio = np.zeros((channels, audio_frames), dtype=np.float32)
        self.result_hdr = ring.new_header(results)
        self.results = np.zeros((results, RECORD_WIDTH), dtype=np.float64)
        self.params = np.zeros(N_PARAMS, dtype=np.float64)
        self.state = np.zeros(N_STATE, dtype=np.float64)
        self.counters = np.zeros(N_COUNTERS, dtype=np.int64)
        self.hist = new_histogram()
        self.scratch = np.zeros(4, dtype=np.int64)
        self.scratch[3] = 1  # the value written to the eventfd
        self.state[S_SENT_V] = -1.0
        self.state[S_SENT_A] = -1.0
        self.table = np.zeros(TABLE_SIZE, dtype=np.int64)
        for array in (self.audio, self.results, self.hist):
            array.fill(0)  # fault every page in now, not in the audio thread (calloc maps lazily)
        t = self.table
        t[T_PORTS] = _address(self.ports)
        t[T_AUDIO_HDR] = _address(self.audio_hdr)
        t[T_AUDIO_DATA] = _address(self.audio)
        t[T_RESULT_HDR] = _address(self.result_hdr)
        t[T_RESULT_DATA] = _address(self.results)
        t[T_PARAMS] = _address(self.params)
        t[T_STATE] = _address(self.state)
        t[T_COUNTERS] = _address(self.counters)
        t[T_HIST] = _address(self.hist)
        t[T_SCRATCH] = _address(self.scratch)
        t[T_CHANNELS] = channels
        t[T_AUDIO_CAPACITY] = audio_frames
        t[T_RESULT_CAPACITY] = results
        t[T_HIST_BINS] = HIST_BINS

    @property
    def table_address(self) -> int:
        """The address passed to the callbacks as ``void *arg``."""
        return _address(self.table)

    def set_user(self, valence: float, arousal: float, blend: float, ml_on: bool) -> None:
        """Initial user valence/arousal, blend and ML switch (before activation)."""
        self.state[S_USER_V] = valence
        self.state[S_USER_A] = arousal
        self.state[S_BLEND] = blend
        self.state[S_ML_ON] = 1.0 if ml_on else 0.0
