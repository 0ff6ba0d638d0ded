"""The preallocated state shared by the audio thread, the inference thread and the CLI.

``SharedState`` allocates every array the audio callback touches, once, before
the client is activated, and builds the int64 *table* of their addresses that
the callback receives as its ``void *arg``. The arrays live as long as this
object; keep it alive for as long as the callback may run.
"""

from __future__ import annotations

import numpy as np

from .rt import midi_events, ring
from .rt import shared_state as layout  # rt/shared_state.py (was rt/layout.py)
from .rt.delay import delay_capacity
from .rt.histogram import HIST_BINS, new_histogram

AUDIO_RING_FRAMES = 1 << 17  # 2.7 s at 48 kHz: room for a stalled inference thread
RESULT_RING_RECORDS = 256
EVENT_RING_RECORDS = 4096  # generator events queued ahead of the output time line


def _address(array: np.ndarray) -> int:
    return int(array.ctypes.data)


class SharedState:
    """Owns the audio-thread state arrays and the address table.

    Created on the main thread; after activation the audio thread writes
    ``counters``, ``state`` and ``hist``, the inference thread writes the result
    ring and reads the audio ring, everyone else only reads.
    """

    def __init__(
        self,
        channels: int,
        audio_frames: int = AUDIO_RING_FRAMES,
        results: int = RESULT_RING_RECORDS,
        outputs: bool = False,
        latency: int = 0,
        events: int = EVENT_RING_RECORDS,
    ):
        self.channels = channels
        self.ports = np.zeros(2 * channels + 2, dtype=np.int64)
        self.delay = np.zeros((channels, delay_capacity(latency)), dtype=np.float32)
        self.audio_hdr = ring.new_header(audio_frames)
        self.audio = np.zeros((channels, audio_frames), dtype=np.float32)
        self.result_hdr = ring.new_header(results)
        self.results = np.zeros((results, layout.RECORD_WIDTH), dtype=np.float64)
        self.event_hdr, self.events = midi_events.new_events(events)
        self.params = np.zeros(layout.N_PARAMS, dtype=np.float64)
        self.state = np.zeros(layout.N_STATE, dtype=np.float64)
        self.counters = np.zeros(layout.N_COUNTERS, dtype=np.int64)
        self.hist = new_histogram()
        self.scratch = np.zeros(4, dtype=np.int64)
        self.scratch[3] = 1  # the value written to the eventfd
        self.counters[layout.C_ORIGIN] = -1
        self.state[layout.S_SENT_V] = -1.0
        self.state[layout.S_SENT_A] = -1.0
        self.sync = np.zeros(layout.SYNC_SIZE, dtype=np.int64)
        self.sync[layout.Y_NEXT_END] = 1 << 62  # nothing to wait for until the inference thread says
        self.table = np.zeros(layout.TABLE_SIZE, dtype=np.int64)
        for array in (self.audio, self.results, self.hist, self.delay, self.events):
            array.fill(0)  # fault every page in now, not in the audio thread (calloc maps lazily)
        t = self.table
        t[layout.T_PORTS] = _address(self.ports)
        t[layout.T_AUDIO_HDR] = _address(self.audio_hdr)
        t[layout.T_AUDIO_DATA] = _address(self.audio)
        t[layout.T_RESULT_HDR] = _address(self.result_hdr)
        t[layout.T_RESULT_DATA] = _address(self.results)
        t[layout.T_PARAMS] = _address(self.params)
        t[layout.T_STATE] = _address(self.state)
        t[layout.T_COUNTERS] = _address(self.counters)
        t[layout.T_HIST] = _address(self.hist)
        t[layout.T_SCRATCH] = _address(self.scratch)
        t[layout.T_CHANNELS] = channels
        t[layout.T_AUDIO_CAPACITY] = audio_frames
        t[layout.T_RESULT_CAPACITY] = results
        t[layout.T_HIST_BINS] = HIST_BINS
        t[layout.T_OUTPUTS] = 1 if outputs else 0
        t[layout.T_DELAY] = _address(self.delay)
        t[layout.T_DELAY_CAPACITY] = self.delay.shape[1]
        t[layout.T_EVENT_HDR] = _address(self.event_hdr)
        t[layout.T_EVENT_DATA] = _address(self.events)
        t[layout.T_EVENT_CAPACITY] = events
        t[layout.T_SYNC] = _address(self.sync)

    def go_offline(self, midi_capacity: int = 1 << 14) -> None:
        """Make the audio kernel read its input from ``offline_in`` and write midi_out to ``offline_midi``.

        For the offline renderer: no ports, no libjack; call before the first period.
        """
        self.offline_in = np.zeros((self.channels, layout.OFFLINE_BLOCK), dtype=np.float32)
        self.offline_midi = np.zeros((midi_capacity, 2), dtype=np.int64)
        self.table[layout.T_OFFLINE_IN] = _address(self.offline_in)
        self.table[layout.T_OFFLINE_MIDI] = _address(self.offline_midi)
        self.table[layout.T_OFFLINE_MIDI_CAPACITY] = midi_capacity
        self.table[layout.T_OUTPUTS] = 0

    def take_offline_midi(self) -> np.ndarray:
        """The (frame, packed message) rows written since the last call (offline only; one thread)."""
        n = int(self.counters[layout.C_OFFLINE_MIDI])
        rows = self.offline_midi[:n].copy()
        self.counters[layout.C_OFFLINE_MIDI] = 0
        return rows

    @property
    def table_address(self) -> int:
        """The address passed to the callbacks as ``void *arg``."""
        return _address(self.table)

    def set_user(self, valence: float, arousal: float, blend: float, ml_on: bool) -> None:
        """Initial user valence/arousal, blend and ML switch (before activation)."""
        self.state[layout.S_USER_V] = valence
        self.state[layout.S_USER_A] = arousal
        self.state[layout.S_BLEND] = blend
        self.state[layout.S_ML_ON] = 1.0 if ml_on else 0.0
