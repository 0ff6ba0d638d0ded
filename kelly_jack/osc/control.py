"""Checks one incoming OSC message on the control port and says what it asks for.

``parse(address, params)`` returns a ``Command`` or raises ``BadMessage`` whose
text is one line naming the address and what is wrong (unknown address, wrong
argument count or type, NaN/Inf, out of range). Nothing is clamped: a value out
of range is refused. ``messages(datagram)`` splits a packet into messages
(bundles are walked here, their time tags ignored: everything applies at once;
python-osc's own bundle reader logs on bad input, which a flood must not
reach). Pure: applying a command is the service's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage

from ..errors import KellyError
from ..rt import shared_state

MAX_BUNDLE_DEPTH = 8


class BadMessage(KellyError):
    """An OSC message kelly does not take; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class Command:
    kind: str  # "set" (slot, value), "reload", "subscribe" / "unsubscribe" (value: port or None)
    slot: int = -1  # shared_state.S_* for "set"
    value: float | int | None = None


# address -> (state slot, lowest, highest)
_FLOATS = {
    "/kelly/user/valence": (shared_state.S_USER_V, -1.0, 1.0),
    "/kelly/user/arousal": (shared_state.S_USER_A, -1.0, 1.0),
    "/kelly/blend": (shared_state.S_BLEND, 0.0, 1.0),
}


def _number(address: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise BadMessage(f"{address}: expects a number, got {_show(x)}")
    if not math.isfinite(x):
        raise BadMessage(f"{address}: expects a finite number, got {x}")
    return float(x)


def _show(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _port(address: str, params: list) -> int | None:
    if not params:
        return None
    if len(params) != 1 or isinstance(params[0], bool) or not isinstance(params[0], int):
        raise BadMessage(f"{address}: expects no argument or one int (a port), got {_show(params)}")
    if not 1 <= params[0] <= 65535:
        raise BadMessage(f"{address}: port must be 1..65535, got {params[0]}")
    return params[0]


def messages(data: bytes, depth: int = 0) -> list[OscMessage]:
    """The messages of one OSC packet (a message or a bundle, nested up to MAX_BUNDLE_DEPTH); raises BadMessage."""
    if data.startswith(b"#bundle\x00"):
        if depth >= MAX_BUNDLE_DEPTH:
            raise BadMessage(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
        if len(data) < 16:
            raise BadMessage(f"truncated bundle ({len(data)} bytes)")
        out, pos = [], 16  # '#bundle\0' and an 8-byte time tag
        while pos < len(data):
            size = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            if size <= 0 or size % 4 or pos + size > len(data):
                raise BadMessage(f"bad bundle element size {size} at byte {pos - 4} of {len(data)}")
            out += messages(data[pos : pos + size], depth + 1)
            pos += size
        return out
    if not data.startswith(b"/"):
        raise BadMessage(f"not an OSC packet ({len(data)} bytes)")
    _check_layout(data)
    try:
        return [OscMessage(data)]
    except Exception as e:  # python-osc raises more than its ParseError on some garbage
        raise BadMessage(f"malformed OSC message ({len(data)} bytes): {type(e).__name__}") from None


_FIXED = {"i": 4, "f": 4, "h": 8, "d": 8, "t": 8, "T": 0, "F": 0, "N": 0}


def _string_end(data: bytes, start: int) -> int:
    """Index after the nul-terminated, 4-byte-padded string at ``start``; raises BadMessage."""
    nul = data.find(b"\x00", start)
    if nul < 0:
        raise BadMessage(f"malformed OSC message ({len(data)} bytes): unterminated string")
    return start + ((nul - start) // 4 + 1) * 4


def _check_layout(data: bytes) -> None:
    """Refuse what python-osc would read leniently: a datagram whose size does not match its type tags
    (it pads a short float with zeros), or a type it only logs about (a flood must not reach the log)."""
    pos = _string_end(data, 0)
    if pos >= len(data):
        return  # no type tags: no arguments
    end = _string_end(data, pos)
    tags = data[pos:end].rstrip(b"\x00").decode("ascii", "replace")
    if not tags.startswith(","):
        raise BadMessage(f"malformed OSC message ({len(data)} bytes): type tags must start with ','")
    pos = end
    for tag in tags[1:]:
        if tag in _FIXED:
            pos += _FIXED[tag]
        elif tag == "s" or tag == "S":
            pos = _string_end(data, pos) if pos < len(data) else pos + 4
        elif tag == "b":
            size = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4 + (size + 3) // 4 * 4
        else:
            raise BadMessage(f"unsupported OSC type tag {tag!r}")
        if pos > len(data):
            break
    if pos != len(data):
        raise BadMessage(f"malformed OSC message: {len(data)} bytes for type tags {tags!r}")


def parse(address: str, params: list) -> Command:
    """The command a message asks for; raises BadMessage."""
    if address in _FLOATS:
        slot, lo, hi = _FLOATS[address]
        if len(params) != 1:
            raise BadMessage(f"{address}: expects one number, got {len(params)} arguments")
        x = _number(address, params[0])
        if not lo <= x <= hi:
            raise BadMessage(f"{address}: must be between {lo:g} and {hi:g}, got {x:g}")
        return Command("set", slot, x)
    if address == "/kelly/ml":
        if len(params) != 1:
            raise BadMessage(f"{address}: expects one argument (1/0 or T/F), got {len(params)}")
        x = params[0]
        if isinstance(x, bool):
            return Command("set", shared_state.S_ML_ON, 1.0 if x else 0.0)
        if isinstance(x, int | float) and x in (0, 1):
            return Command("set", shared_state.S_ML_ON, float(x))
        raise BadMessage(f"{address}: expects 1 or 0 (or T/F), got {_show(x)}")
    if address == "/kelly/reload":
        if params:
            raise BadMessage(f"{address}: takes no arguments, got {len(params)}")
        return Command("reload")
    if address in ("/kelly/subscribe", "/kelly/unsubscribe"):
        return Command(address.rpartition("/")[2], value=_port(address, params))
    raise BadMessage(f"unknown address {_show(address)}")
