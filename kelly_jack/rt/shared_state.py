"""The shared state's blocks, declared: the audio thread, the inference thread and the CLI agree on them.

The audio callback's ``void *arg`` points at an int64 *table*: addresses of the
preallocated arrays and their sizes. Each block below (the table, the params,
the audio thread's state and counters, the inference thread's counters, the
result record, the sync words) is a list of field names in order; ``_block``
numbers them and sets one module constant per field, ``<PREFIX>_<NAME>``
(``C_XRUNS`` is the index of ``XRUNS`` in ``COUNTERS``), and the block's size.
The kernels read those constants as plain ints (Numba compiles them in as
constants); nobody numbers a field by hand. ``tests/test_shared_state.py``
checks the sizes and that no index is used twice.
"""

from __future__ import annotations

BLOCKS: dict[str, tuple[str, ...]] = {}  # prefix -> the block's field names in order


def _block(prefix: str, fields: tuple[str | tuple[str, int], ...]) -> int:
    """Number ``fields`` (a name, or (name, width) for a run of slots) as ``<prefix>_<NAME>``; return the size."""
    assert prefix not in BLOCKS, f"two blocks with the prefix {prefix}"
    g = globals()
    at = 0
    names = []
    for f in fields:
        name, width = (f, 1) if isinstance(f, str) else f
        assert name not in names, f"{prefix}_{name} declared twice"
        g[f"{prefix}_{name}"] = at
        names.append(name)
        at += width
    BLOCKS[prefix] = tuple(names)
    return at


# --- table slots (int64): addresses and sizes
TABLE_SIZE = _block(
    "T",
    (
        "PORTS",  # int64[2 * channels + 2]: in_1..in_N, midi_out, midi_in, out_1..out_N port pointers
        "AUDIO_HDR",  # ring header of the audio ring
        "AUDIO_DATA",  # float32[channels, audio_capacity]
        "RESULT_HDR",  # ring header of the result ring
        "RESULT_DATA",  # float64[result_capacity, RECORD_WIDTH]
        "PARAMS",  # float64[N_PARAMS], written before activation
        "STATE",  # float64[N_STATE], owned by the audio thread (MIDI-in writes it too)
        "COUNTERS",  # int64[N_COUNTERS], written by the audio thread only
        "HIST",  # int64[HIST_BINS], callback time per period in microseconds
        "SCRATCH",  # int64[4]: jack_midi_event_t for midi_in, and the eventfd write value
        "CHANNELS",
        "AUDIO_CAPACITY",
        "RESULT_CAPACITY",
        "HIST_BINS",
        "OUTPUTS",  # 1: audio outputs out_1..out_N exist, 0: none
        "DELAY",  # float32[channels, delay_capacity]: the delay line
        "DELAY_CAPACITY",
        "EVENT_HDR",  # ring header of the MIDI event ring (generators -> audio thread)
        "EVENT_DATA",  # int64[event_capacity, EVENT_WIDTH] (see rt/midi_events.py)
        "EVENT_CAPACITY",
        "OFFLINE_IN",  # 0 on JACK; offline: float32[channels, OFFLINE_BLOCK] the input block (instead of ports)
        "OFFLINE_MIDI",  # offline: int64[capacity, 2] (frame, packed message) where midi_out events go
        "OFFLINE_MIDI_CAPACITY",
        "CLIENT",  # jack_client_t * (0 offline), for the frame time of client frame 0
        "SYNC",  # int64[SYNC_SIZE]: what the inference thread tells the audio thread (freewheel hand-over)
    ),
)
OFFLINE_BLOCK = 8192  # frames of the offline input block (JACK's largest period)

# --- params (float64): configuration the audio thread reads
N_PARAMS = _block(
    "P",
    (
        "LATENCY",  # total latency L in frames
        "TAU",  # smoothing time constant in frames (0: none)
        "HOP",  # inference hop in frames
        "EVENTFD",  # eventfd to wake the inference thread, -1 for none
        "OUT_CHANNEL",  # MIDI channel 0..15 of the emotion CCs
        "CC_VALENCE",
        "CC_AROUSAL",
        "CC_MIN_INTERVAL",  # frames between two messages of one controller
        "IN_CHANNEL",  # MIDI channel listened to on midi_in (-1: omni)
        "IN_CC_VALENCE",  # user valence
        "IN_CC_AROUSAL",  # user arousal
        "IN_CC_BLEND",  # blend amount (0 user only .. 127 model only)
        "IN_CC_ML",  # ML on (>= 64) / off
        "SEND_CC",  # 1: send the emotion CCs
    ),
)

# --- state (float64)
N_STATE = _block(
    "S",
    (
        "TARGET_V",  # latest model valence (applied result)
        "TARGET_A",
        "ML_V",  # smoothed model valence
        "ML_A",
        "USER_V",
        "USER_A",
        "BLEND",
        "ML_ON",
        "HAVE_RESULT",  # 1 once a result was applied
        "OUT_V",  # blended value last computed
        "OUT_A",
        "SENT_V",  # last 7-bit value sent, -1 for none
        "SENT_A",
        "SENT_AT_V",  # output frame of the last message sent
        "SENT_AT_A",
        "FREEWHEEL",  # 1 while JACK freewheels (set by the freewheel callback)
    ),
)

# --- counters (int64), written only by the audio thread (C_XRUNS by the xrun callback)
N_COUNTERS = _block(
    "C",
    (
        "PERIODS",
        "CLOCK",  # frames processed since activation: the client's time line (client frames)
        "XRUNS",
        "APPLIED",  # results applied on time
        "LATE",  # results applied after their frame
        "MIDI_SENT",
        "MIDI_DROPPED",  # events jack_midi_event_reserve refused
        "MIDI_IN",  # control changes taken from midi_in
        "TIME_MAX_US",
        "MAX_NFRAMES",
        "WAKES",
        "EVENTS_SENT",  # generator events written to midi_out
        "EVENTS_LATE",  # generator events that arrived after their frame (sent at once)
        "OFFLINE_MIDI",  # offline: events in the T_OFFLINE_MIDI sink (the reader resets it)
        "ORIGIN",  # JACK frame time minus client frame, as of the last period (-1 until the first)
        "FREEWHEEL_WAITS",  # freewheel periods that waited for inference (or gave up after FREEWHEEL_WAIT_US)
    ),
)

# --- the inference thread's counters (int64, InferenceThreadManager.counters), written by that thread only
N_INFERENCE_COUNTERS = _block(
    "I",
    (
        "RESULTS",  # results pushed
        "ERRORS",  # backend raised
        "NONFINITE",  # backend returned NaN/Inf or the wrong shape
        "SKIPPED",  # hops skipped because inference fell behind
        "RESYNCS",  # audio-ring overflows the thread re-synchronised after
        "BAD_SAMPLES",  # non-finite input samples replaced by 0
        "INFER_MAX_US",
        "INFER_TOTAL_US",
        "TIMEOUTS",  # backend calls abandoned at the deadline
        "REPLACED",  # backends replaced by the hold-last stub
    ),
)

# --- result record (float64 row)
RECORD_WIDTH = _block(
    "R",
    (
        "FRAME",  # client frame of the last frame of the analysed window
        "VALENCE",
        "AROUSAL",
        "DOMINANCE",
        "CONFIDENCE",
        "INFER_US",  # inference time in microseconds
        ("EMOTION", 64),  # the 64 logits' values from here
    ),
)

# --- sync (int64), written by the inference thread only
SYNC_SIZE = _block(
    "Y",
    ("NEXT_END",),  # audio-ring position where the next window it will analyse ends
)
FREEWHEEL_WAIT_US = 5_000_000  # the longest a freewheeling period waits for one inference
