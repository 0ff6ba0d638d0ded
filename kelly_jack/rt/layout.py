"""Index constants of the shared state the audio thread reaches through one table.

The audio callback's ``void *arg`` points at an int64 *table*: addresses of the
preallocated arrays (T_*) and their sizes. Each array's slots are named here so
that the kernels, the inference thread and the CLI agree on them.
"""

# --- table slots (int64): addresses and sizes
T_PORTS = 0  # int64[2 * channels + 2]: in_1..in_N, midi_out, midi_in, out_1..out_N port pointers
T_AUDIO_HDR = 1  # ring header of the audio ring
T_AUDIO_DATA = 2  # float32[channels, audio_capacity]
T_RESULT_HDR = 3  # ring header of the result ring
T_RESULT_DATA = 4  # float64[result_capacity, RECORD_WIDTH]
T_PARAMS = 5  # float64[N_PARAMS], written before activation
T_STATE = 6  # float64[N_STATE], owned by the audio thread (MIDI-in writes it too)
T_COUNTERS = 7  # int64[N_COUNTERS], written by the audio thread only
T_HIST = 8  # int64[HIST_BINS], callback time per period in microseconds
T_SCRATCH = 9  # int64[4]: jack_midi_event_t for midi_in, and the eventfd write value
T_CHANNELS = 10
T_AUDIO_CAPACITY = 11
T_RESULT_CAPACITY = 12
T_HIST_BINS = 13
T_OUTPUTS = 14  # 1: audio outputs out_1..out_N exist, 0: none
T_DELAY = 15  # float32[channels, delay_capacity]: the delay line
T_DELAY_CAPACITY = 16
T_EVENT_HDR = 17  # ring header of the MIDI event ring (generators -> audio thread)
T_EVENT_DATA = 18  # int64[event_capacity, EVENT_WIDTH] (see rt/midi_events.py)
T_EVENT_CAPACITY = 19
T_OFFLINE_IN = 20  # 0 on JACK; offline: float32[channels, OFFLINE_BLOCK] the input block (instead of ports)
T_OFFLINE_MIDI = 21  # offline: int64[capacity, 2] (frame, packed message) where midi_out events go
T_OFFLINE_MIDI_CAPACITY = 22
T_CLIENT = 23  # jack_client_t * (0 offline), for the frame time of client frame 0
T_SYNC = 24  # int64[SYNC_SIZE]: what the inference thread tells the audio thread (freewheel hand-over)
TABLE_SIZE = 28
OFFLINE_BLOCK = 8192  # frames of the offline input block (JACK's largest period)

# --- params (float64): configuration the audio thread reads
P_LATENCY = 0  # total latency L in frames
P_TAU = 1  # smoothing time constant in frames (0: none)
P_HOP = 2  # inference hop in frames
P_EVENTFD = 3  # eventfd to wake the inference thread, -1 for none
P_OUT_CHANNEL = 4  # MIDI channel 0..15 of the emotion CCs
P_CC_VALENCE = 5
P_CC_AROUSAL = 6
P_CC_MIN_INTERVAL = 7  # frames between two messages of one controller
P_IN_CHANNEL = 8  # MIDI channel listened to on midi_in (-1: omni)
P_IN_CC_VALENCE = 9  # user valence
P_IN_CC_AROUSAL = 10  # user arousal
P_IN_CC_BLEND = 11  # blend amount (0 user only .. 127 model only)
P_IN_CC_ML = 12  # ML on (>= 64) / off
P_SEND_CC = 13  # 1: send the emotion CCs
N_PARAMS = 16

# --- state (float64)
S_TARGET_V = 0  # latest model valence (applied result)
S_TARGET_A = 1
S_ML_V = 2  # smoothed model valence
S_ML_A = 3
S_USER_V = 4
S_USER_A = 5
S_BLEND = 6
S_ML_ON = 7
S_HAVE_RESULT = 8  # 1 once a result was applied
S_OUT_V = 9  # blended value last computed
S_OUT_A = 10
S_SENT_V = 11  # last 7-bit value sent, -1 for none
S_SENT_A = 12
S_SENT_AT_V = 13  # output frame of the last message sent
S_SENT_AT_A = 14
S_FREEWHEEL = 15  # 1 while JACK freewheels (set by the freewheel callback)
N_STATE = 16

# --- counters (int64), written only by the audio thread (C_XRUNS by the xrun callback)
C_PERIODS = 0
C_CLOCK = 1  # frames processed since activation: the client's time line (client frames)
C_XRUNS = 2
C_APPLIED = 3  # results applied on time
C_LATE = 4  # results applied after their frame
C_MIDI_SENT = 5
C_MIDI_DROPPED = 6  # events jack_midi_event_reserve refused
C_MIDI_IN = 7  # control changes taken from midi_in
C_TIME_MAX_US = 8
C_MAX_NFRAMES = 9
C_WAKES = 10
C_EVENTS_SENT = 11  # generator events written to midi_out
C_EVENTS_LATE = 12  # generator events that arrived after their frame (sent at once)
C_OFFLINE_MIDI = 13  # offline: events in the T_OFFLINE_MIDI sink (the reader resets it)
C_ORIGIN = 14  # JACK frame time minus client frame, as of the last period (-1 until the first)
C_FREEWHEEL_WAITS = 15  # freewheel periods that waited for inference (or gave up after FREEWHEEL_WAIT_US)
N_COUNTERS = 16

# --- result record (float64 row)
R_FRAME = 0  # client frame of the last frame of the analysed window
R_VALENCE = 1
R_AROUSAL = 2
R_DOMINANCE = 3
R_CONFIDENCE = 4
R_INFER_US = 5  # inference time in microseconds
R_EMOTION = 8  # 64 floats from here
RECORD_WIDTH = 72

# --- sync (int64), written by the inference thread only
Y_NEXT_END = 0  # audio-ring position where the next window it will analyse ends
SYNC_SIZE = 2
FREEWHEEL_WAIT_US = 5_000_000  # the longest a freewheeling period waits for one inference
