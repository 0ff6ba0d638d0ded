"""The running client's figures as one dict, and that dict as an OSC bundle (and back).

``collect`` reads the shared arrays (counters, state, histogram) and the
inference thread's last result; it never waits for the audio thread. Its keys
are those of ``report.figures`` plus what ``addresses.OUT``/``STATUS`` name,
and ``emotion`` (64 probabilities, or None before the first result).
"""

from __future__ import annotations

import math

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ..backends.base import softmax
from ..engine.report import figures
from ..rt import shared_state
from .addresses import EMOTION, OUT, STATUS, status_address

INT32 = 2**31 - 1


def collect(session, reloader=None, bad_messages: int = 0) -> dict:
    """Figures of ``session`` (an ``engine.live.Session``) now; any thread but the audio thread."""
    f: dict = figures(session.state, session.inference)
    s = session.state.state
    rec = session.inference.last_result  # one reference read: a whole record or None
    f.update(
        model_valence=float(s[shared_state.S_ML_V]),
        model_arousal=float(s[shared_state.S_ML_A]),
        user_valence=float(s[shared_state.S_USER_V]),
        user_arousal=float(s[shared_state.S_USER_A]),
        blend=float(s[shared_state.S_BLEND]),
        ml=1 if s[shared_state.S_ML_ON] > 0.5 else 0,
        dominance=float(rec[shared_state.R_DOMINANCE]) if rec is not None else 0.0,
        confidence=float(rec[shared_state.R_CONFIDENCE]) if rec is not None else 0.0,
        infer_last_us=float(rec[shared_state.R_INFER_US]) if rec is not None else float("nan"),
        latency_frames=session.latency,
        latency_ms=1000.0 * session.latency / session.rate,
        rate=session.rate,
        blocksize=session.blocksize,
        hop=session.cfg["analysis"]["hop"],
        reloads=reloader.reloads if reloader is not None else 0,
        reload_refused=reloader.refused if reloader is not None else 0,
        osc_bad=bad_messages,
        emotion=None if rec is None else softmax(rec[shared_state.R_EMOTION : shared_state.R_EMOTION + 64]).tolist(),
    )
    return f


def _value(kind: str, x) -> int | float:
    if kind == "i":
        x = float(x)
        return 0 if not math.isfinite(x) else int(max(-INT32 - 1, min(INT32, x)))
    return float(x)


def _message(address: str, kinds: str, values) -> object:
    m = OscMessageBuilder(address)
    for kind, x in zip(kinds, values, strict=True):
        m.add_arg(_value(kind, x), kind)
    return m.build()


def encode(f: dict) -> bytes:
    """One OSC bundle (immediate) with every OUT and STATUS message, and the emotion vector if any."""
    b = OscBundleBuilder(IMMEDIATELY)
    for address, names, kinds, _ in OUT:
        b.add_content(_message(address, kinds, [f[n] for n in names]))
    for name, kind, _ in STATUS:
        b.add_content(_message(status_address(name), kind, [f[name]]))
    if f.get("emotion") is not None:
        b.add_content(_message(EMOTION, "f" * 64, f["emotion"]))
    return b.build().dgram


_DECODE = {a: names for a, names, _, _ in OUT} | {status_address(n): (n,) for n, _, _ in STATUS}


def decode(messages) -> dict:
    """Figures from OSC messages (``OscMessage``s of one status bundle); unknown addresses are skipped."""
    f: dict = {}
    for m in messages:
        if m.address == EMOTION:
            f["emotion"] = list(m.params)
        elif (names := _DECODE.get(m.address)) and len(names) == len(m.params):
            f.update(zip(names, m.params, strict=True))
    return f
