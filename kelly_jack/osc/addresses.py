"""The OSC address space of kelly-jack (docs/osc.md's tables are generated from these: kelly_jack.docs_gen).

Out: one bundle per status tick holding every ``OUT`` message (and ``/kelly/emotion``
once the model has produced a result). In: the ``IN`` messages on the control port.
Integers are OSC int32 (clamped), floats are OSC float32.
"""

from __future__ import annotations

from ..engine.status import FIELDS

PREFIX = "/kelly"

# (address, figure names, OSC type tags, meaning) sent every tick
OUT: list[tuple[str, tuple[str, ...], str, str]] = [
    ("/kelly/valence", ("valence",), "f", "valence sent on midi_out (model/user blend), -1..1"),
    ("/kelly/arousal", ("arousal",), "f", "arousal sent on midi_out, -1..1"),
    ("/kelly/dominance", ("dominance",), "f", "the last result's dominance (0 without a learned mapping)"),
    ("/kelly/confidence", ("confidence",), "f", "the last result's confidence, 0..1"),
    ("/kelly/model", ("model_valence", "model_arousal"), "ff", "the model's smoothed valence, arousal"),
    ("/kelly/user", ("user_valence", "user_arousal", "blend", "ml"), "fffi", "user valence, arousal, blend, ML on"),
    ("/kelly/latency", ("latency_frames", "latency_ms"), "if", "kelly's latency L in frames and ms"),
    ("/kelly/server", ("rate", "blocksize", "hop"), "iii", "sample rate (Hz), frames per period, hop (frames)"),
]
# /kelly/status/<name>: one value each (counters since start; times in microseconds)
# (name, OSC type tag, meaning): the status fields declared in kelly_jack/engine/status.py that go out on OSC
STATUS: list[tuple[str, str, str]] = [(f.name, f.kind, f.meaning) for f in FIELDS if f.osc]
EMOTION = "/kelly/emotion"  # 64 floats: softmax of the last result's logits, index row * 8 + col
EMOTION_DOC = (
    "softmax of the last result's 64 logits, index `row * 8 + col` (valence along columns, arousal along rows); "
    "from the first result on"
)

# (address, argument types, meaning) accepted on the control port
IN: list[tuple[str, str, str]] = [
    ("/kelly/user/valence", "f", "the user's valence, -1..1 (as `midi.in_cc_valence`)"),
    ("/kelly/user/arousal", "f", "the user's arousal, -1..1"),
    ("/kelly/blend", "f", "share of the model in what is sent, 0..1 (0: the user's values only)"),
    ("/kelly/ml", "i", "ML on (1 or T) or off (0 or F: the user's values, whatever the blend)"),
    ("/kelly/reload", "", "reload the config's model, exactly as SIGHUP does"),
    (
        "/kelly/subscribe",
        "[i]",
        "send the status stream to the sender (or its host at port i) for 10 s; renew to keep it (16 at most)",
    ),
    ("/kelly/unsubscribe", "[i]", "stop sending it there"),
]


def status_address(name: str) -> str:
    return f"{PREFIX}/status/{name}"
