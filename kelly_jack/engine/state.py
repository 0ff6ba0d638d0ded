"""The preallocated state shared by the audio thread, the inference thread and the CLI.

``SharedState`` allocates every array the audio callback touches, once, before
the client is activated, and builds the int64 *table* of their addresses that
the callback receives as its ``void *arg``. The arrays live as long as this
object; keep it alive for as long as the callback may run.
"""

from __future__ import annotations

import numpy as np

from ..rt import midi_events, ring, shared_state
from ..rt.delay import delay_capacity
from ..rt.histogram import HIST_BINS, new_histogram

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
        self.results = np.zeros((results, shared_state.RECORD_WIDTH), dtype=np.float64)
        self.event_hdr, self.events = midi_events.new_events(events)
        self.params = np.zeros(shared_state.N_PARAMS, dtype=np.float64)
        self.state = np.zeros(shared_state.N_STATE, dtype=np.float64)
        self.counters = np.zeros(shared_state.N_COUNTERS, dtype=np.int64)
        self.hist = new_histogram()
        self.scratch = np.zeros(4, dtype=np.int64)
        self.scratch[3] = 1  # the value written to the eventfd
        self.counters[shared_state.C_ORIGIN] = -1
        self.state[shared_state.S_SENT_V] = -1.0
        self.state[shared_state.S_SENT_A] = -1.0
        self.sync = np.zeros(shared_state.SYNC_SIZE, dtype=np.int64)
        self.sync[shared_state.Y_NEXT_END] = 1 << 62  # nothing to wait for until the inference thread says
        self.table = np.zeros(shared_state.TABLE_SIZE, dtype=np.int64)
        for array in (self.audio, self.results, self.hist, self.delay, self.events):
            array.fill(0)  # fault every page in now, not in the audio thread (calloc maps lazily)
        t = self.table
        t[shared_state.T_PORTS] = _address(self.ports)
        t[shared_state.T_AUDIO_HDR] = _address(self.audio_hdr)
        t[shared_state.T_AUDIO_DATA] = _address(self.audio)
        t[shared_state.T_RESULT_HDR] = _address(self.result_hdr)
        t[shared_state.T_RESULT_DATA] = _address(self.results)
        t[shared_state.T_PARAMS] = _address(self.params)
        t[shared_state.T_STATE] = _address(self.state)
        t[shared_state.T_COUNTERS] = _address(self.counters)
        t[shared_state.T_HIST] = _address(self.hist)
        t[shared_state.T_SCRATCH] = _address(self.scratch)
        t[shared_state.T_CHANNELS] = channels
        t[shared_state.T_AUDIO_CAPACITY] = audio_frames
        t[shared_state.T_RESULT_CAPACITY] = results
        t[shared_state.T_HIST_BINS] = HIST_BINS
        t[shared_state.T_OUTPUTS] = 1 if outputs else 0
        t[shared_state.T_DELAY] = _address(self.delay)
        t[shared_state.T_DELAY_CAPACITY] = self.delay.shape[1]
        t[shared_state.T_EVENT_HDR] = _address(self.event_hdr)
        t[shared_state.T_EVENT_DATA] = _address(self.events)
        t[shared_state.T_EVENT_CAPACITY] = events
        t[shared_state.T_SYNC] = _address(self.sync)

    def go_offline(self, midi_capacity: int = 1 << 14) -> None:
        """Make the audio kernel read its input from ``offline_in`` and write midi_out to ``offline_midi``.

        For the offline renderer: no ports, no libjack; call before the first period.
        """
        self.offline_in = np.zeros((self.channels, shared_state.OFFLINE_BLOCK), dtype=np.float32)
        self.offline_midi = np.zeros((midi_capacity, 2), dtype=np.int64)
        self.table[shared_state.T_OFFLINE_IN] = _address(self.offline_in)
        self.table[shared_state.T_OFFLINE_MIDI] = _address(self.offline_midi)
        self.table[shared_state.T_OFFLINE_MIDI_CAPACITY] = midi_capacity
        self.table[shared_state.T_OUTPUTS] = 0

    def take_offline_midi(self) -> np.ndarray:
        """The (frame, packed message) rows written since the last call (offline only; one thread)."""
        n = int(self.counters[shared_state.C_OFFLINE_MIDI])
        rows = self.offline_midi[:n].copy()
        self.counters[shared_state.C_OFFLINE_MIDI] = 0
        return rows

    @property
    def table_address(self) -> int:
        """The address passed to the callbacks as ``void *arg``."""
        return _address(self.table)

    def set_user(self, valence: float, arousal: float, blend: float, ml_on: bool) -> None:
        """Initial user valence/arousal, blend and ML switch (before activation)."""
        self.state[shared_state.S_USER_V] = valence
        self.state[shared_state.S_USER_A] = arousal
        self.state[shared_state.S_BLEND] = blend
        self.state[shared_state.S_ML_ON] = 1.0 if ml_on else 0.0


def configure_params(state: SharedState, cfg: dict, rate: int, latency: int, wake_fd: int) -> None:
    """Write the audio thread's parameters for sample rate ``rate`` (before activation)."""
    p = state.params
    ms = rate / 1000.0
    midi = cfg["midi"]
    p[shared_state.P_LATENCY] = latency
    p[shared_state.P_TAU] = cfg["emotion"]["smoothing_ms"] * ms
    p[shared_state.P_HOP] = cfg["analysis"]["hop"]
    p[shared_state.P_EVENTFD] = wake_fd
    p[shared_state.P_OUT_CHANNEL] = midi["out_channel"] - 1
    p[shared_state.P_SEND_CC] = 1.0 if midi["send_cc"] else 0.0
    p[shared_state.P_CC_VALENCE] = midi["cc_valence"]
    p[shared_state.P_CC_AROUSAL] = midi["cc_arousal"]
    p[shared_state.P_CC_MIN_INTERVAL] = midi["cc_min_interval_ms"] * ms
    p[shared_state.P_IN_CHANNEL] = midi["in_channel"]
    p[shared_state.P_IN_CC_VALENCE] = midi["in_cc_valence"]
    p[shared_state.P_IN_CC_AROUSAL] = midi["in_cc_arousal"]
    p[shared_state.P_IN_CC_BLEND] = midi["in_cc_blend"]
    p[shared_state.P_IN_CC_ML] = midi["in_cc_ml"]
    e = cfg["emotion"]
    state.set_user(e["user_valence"], e["user_arousal"], e["blend"], e["ml_enabled"])
