"""Human-readable figures: the live status line and the shutdown summary.

Both only read counters (numpy arrays the audio and inference threads write);
they never touch the audio thread.
"""

from __future__ import annotations

import numpy as np

from ..inference.thread import InferenceThreadManager
from . import status
from .state import SharedState


def figures(state: SharedState, inference: InferenceThreadManager) -> dict[str, float]:
    """Every counter worth reporting, by name (a snapshot; the fields are declared in ``status.py``)."""
    return status.read(state, inference)


def summary(f: dict[str, float], rate: int, blocksize: int, latency: int) -> str:
    """The one-paragraph summary printed at shutdown."""
    dropped = f["backend_errors"] + f["nonfinite"] + f["backend_timeouts"] + f["result_overflow"]
    return (
        f"kelly-jack summary: {f['periods']} periods of {blocksize} frames at {rate} Hz, "
        f"{f['xruns']} xruns; audio thread p50 {f['time_p50_us']:.0f} us, "
        f"p99.9 {f['time_p999_us']:.0f} us, max {f['time_max_us']} us; "
        f"latency {latency} frames ({1000.0 * latency / rate:.1f} ms); "
        f"results {f['applied']} applied, {f['late']} late, {dropped} dropped "
        f"({f['backend_errors']} backend errors, {f['nonfinite']} non-finite, "
        f"{f['backend_timeouts']} backend timeouts, "
        f"{f['result_overflow']} ring overflows), {f['skipped_hops']} hops skipped; "
        f"inference mean {f['infer_mean_us']:.0f} us, max {f['infer_max_us']} us"
        f"{'; backend replaced by hold-last' if f['backend_replaced'] else ''}; "
        f"MIDI {f['midi_sent']} sent, {f['midi_dropped']} dropped, {f['midi_in']} CC in; "
        f"generator events {f['events_sent']} sent, {f['events_late']} late; "
        f"audio ring overflow {f['audio_overflow_frames']} frames; "
        f"JACK frame = client frame + {f['origin']}."
    )


def status_line(f: dict[str, float], rate: int, latency: int) -> str:
    """One line for the live display."""
    return (
        f"valence {f['valence']:+.2f}  arousal {f['arousal']:+.2f}  "
        f"{_bar(f['valence'])} {_bar(f['arousal'])}  "
        f"latency {latency} fr ({1000.0 * latency / rate:.1f} ms)  "
        f"MIDI out {f['midi_sent'] + f['events_sent']}  results {f['applied']}+{f['late']} late  "
        f"xruns {f['xruns']}  cb p99.9 {f['time_p999_us']:.0f} us"
    )


def _bar(x: float, width: int = 11) -> str:
    if not np.isfinite(x):
        x = 0.0
    pos = int(round((max(-1.0, min(1.0, x)) + 1.0) / 2.0 * (width - 1)))
    return "[" + "".join("|" if i == pos else "-" for i in range(width)) + "]"
