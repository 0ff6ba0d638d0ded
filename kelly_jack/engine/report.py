"""Human-readable figures: the live status line and the shutdown summary.

Both only read counters (numpy arrays the audio and inference threads write);
they never touch the audio thread.
"""

from __future__ import annotations

import numpy as np

from ..inference.thread import (
    I_ERRORS,
    I_INFER_MAX_US,
    I_INFER_TOTAL_US,
    I_NONFINITE,
    I_REPLACED,
    I_RESULTS,
    I_RESYNCS,
    I_SKIPPED,
    I_TIMEOUTS,
    InferenceThreadManager,
)
from ..rt import layout, ring
from ..rt.histogram import hist_percentile
from .state import SharedState


def figures(state: SharedState, inference: InferenceThreadManager) -> dict[str, float]:
    """Every counter worth reporting, by name (a snapshot)."""
    c = state.counters.copy()
    i = inference.counters.copy()
    hist = state.hist.copy()
    results = int(i[I_RESULTS])
    return {
        "periods": int(c[layout.C_PERIODS]),
        "xruns": int(c[layout.C_XRUNS]),
        "time_p50_us": hist_percentile(hist, 50),
        "time_p999_us": hist_percentile(hist, 99.9),
        "time_max_us": int(c[layout.C_TIME_MAX_US]),
        "results": results,
        "applied": int(c[layout.C_APPLIED]),
        "late": int(c[layout.C_LATE]),
        "backend_errors": int(i[I_ERRORS]),
        "nonfinite": int(i[I_NONFINITE]),
        "backend_timeouts": int(i[I_TIMEOUTS]),
        "backend_replaced": int(i[I_REPLACED]),
        "skipped_hops": int(i[I_SKIPPED]),
        "audio_overflow_frames": int(state.audio_hdr[ring.H_OVERFLOW]),
        "audio_resyncs": int(i[I_RESYNCS]),
        "result_overflow": int(state.result_hdr[ring.H_OVERFLOW]),
        "midi_sent": int(c[layout.C_MIDI_SENT]),
        "midi_dropped": int(c[layout.C_MIDI_DROPPED]),
        "midi_in": int(c[layout.C_MIDI_IN]),
        "events_sent": int(c[layout.C_EVENTS_SENT]),
        "events_late": int(c[layout.C_EVENTS_LATE]),
        "origin": int(c[layout.C_ORIGIN]),
        "infer_mean_us": float(i[I_INFER_TOTAL_US]) / results if results else float("nan"),
        "infer_max_us": int(i[I_INFER_MAX_US]),
        "valence": float(state.state[layout.S_OUT_V]),
        "arousal": float(state.state[layout.S_OUT_A]),
    }


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
