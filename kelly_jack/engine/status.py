"""The client's status fields, declared once.

Each ``Field`` names one figure, its OSC type, what it means and where it is
read from. ``report.figures`` (the status line and the shutdown summary),
the OSC status stream (``osc.addresses.STATUS``: the fields with ``osc``) and
docs/osc.md's status table (generated from ``STATUS``) all take them from
here. A field whose ``read`` is None is filled in by the OSC snapshot
(``osc/snapshot.py``: it knows the session's reloader and control port).

Reading never touches the audio thread: the counters, histogram and ring
headers are copied first (numpy arrays the audio and inference threads
write), then read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..rt import ring
from ..rt import shared_state as S
from ..rt.histogram import hist_percentile


class Sources(NamedTuple):
    """One snapshot of what the status is read from."""

    c: np.ndarray  # the audio thread's counters (S.C_*)
    i: np.ndarray  # the inference thread's counters (S.I_*)
    hist: np.ndarray  # callback time per period, microseconds
    state: np.ndarray  # the audio thread's state (S.S_*)
    audio_hdr: np.ndarray
    result_hdr: np.ndarray


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # OSC type tag: "i" (int32, clamped) or "f"
    meaning: str  # docs/osc.md's status table
    read: Callable[[Sources], float] | None  # None: the OSC snapshot fills it in
    osc: bool = True  # sent as /kelly/status/<name>


def _infer_mean_us(s: Sources) -> float:
    results = int(s.i[S.I_RESULTS])
    return float(s.i[S.I_INFER_TOTAL_US]) / results if results else float("nan")


def _count(block: str, index: int) -> Callable[[Sources], int]:
    return lambda s: int(getattr(s, block)[index])


FIELDS: tuple[Field, ...] = (
    # sent on OSC, in this order (counters since start; times in microseconds)
    Field("periods", "i", "periods processed", _count("c", S.C_PERIODS)),
    Field("xruns", "i", "xruns reported by the server", _count("c", S.C_XRUNS)),
    Field("applied", "i", "results applied on time", _count("c", S.C_APPLIED)),
    Field("late", "i", "results applied after their frame", _count("c", S.C_LATE)),
    Field("results", "i", "results the model produced", _count("i", S.I_RESULTS)),
    Field("skipped_hops", "i", "hops skipped because inference fell behind", _count("i", S.I_SKIPPED)),
    Field("backend_errors", "i", "results dropped: the backend raised", _count("i", S.I_ERRORS)),
    Field("nonfinite", "i", "results dropped: NaN/Inf or the wrong shape", _count("i", S.I_NONFINITE)),
    Field("midi_sent", "i", "emotion CCs sent", _count("c", S.C_MIDI_SENT)),
    Field("events_sent", "i", "generator events sent", _count("c", S.C_EVENTS_SENT)),
    Field("midi_dropped", "i", "MIDI events the port refused", _count("c", S.C_MIDI_DROPPED)),
    Field("midi_in", "i", "CCs taken from midi_in", _count("c", S.C_MIDI_IN)),
    Field("time_max_us", "i", "longest audio-thread callback", _count("c", S.C_TIME_MAX_US)),
    Field("time_p50_us", "f", "median audio-thread callback", lambda s: hist_percentile(s.hist, 50)),
    Field("time_p999_us", "f", "99.9th percentile audio-thread callback", lambda s: hist_percentile(s.hist, 99.9)),
    Field("infer_last_us", "f", "the last inference (backend call)", None),
    Field("infer_mean_us", "f", "mean inference time", _infer_mean_us),
    Field("infer_max_us", "i", "longest inference", _count("i", S.I_INFER_MAX_US)),
    Field("reloads", "i", "model reloads (SIGHUP or /kelly/reload)", None),
    Field("reload_refused", "i", "reloads refused (the old model kept running)", None),
    Field("osc_bad", "i", "bad OSC messages ignored", None),
    # the summary's and the status line's only (valence and arousal go out as /kelly/valence, /kelly/arousal)
    Field("backend_timeouts", "i", "backend calls abandoned at the deadline", _count("i", S.I_TIMEOUTS), osc=False),
    Field("backend_replaced", "i", "backends replaced by the hold-last stub", _count("i", S.I_REPLACED), osc=False),
    Field(
        "audio_overflow_frames",
        "i",
        "frames the audio ring dropped",
        lambda s: int(s.audio_hdr[ring.H_OVERFLOW]),
        osc=False,
    ),
    Field(
        "audio_resyncs",
        "i",
        "audio-ring overflows the inference thread re-synchronised after",
        _count("i", S.I_RESYNCS),
        osc=False,
    ),
    Field(
        "result_overflow",
        "i",
        "results the result ring dropped",
        lambda s: int(s.result_hdr[ring.H_OVERFLOW]),
        osc=False,
    ),
    Field("events_late", "i", "generator events sent after their frame", _count("c", S.C_EVENTS_LATE), osc=False),
    Field("origin", "i", "JACK frame time minus client frame", _count("c", S.C_ORIGIN), osc=False),
    Field("valence", "f", "valence sent on midi_out", lambda s: float(s.state[S.S_OUT_V]), osc=False),
    Field("arousal", "f", "arousal sent on midi_out", lambda s: float(s.state[S.S_OUT_A]), osc=False),
)


def read(state, inference) -> dict[str, float]:
    """Every field with a ``read`` of ``state`` (a ``SharedState``) and ``inference`` (its thread), by name."""
    s = Sources(
        state.counters.copy(),
        inference.counters.copy(),
        state.hist.copy(),
        state.state,
        state.audio_hdr,
        state.result_hdr,
    )
    return {f.name: f.read(s) for f in FIELDS if f.read is not None}
