"""Checks one incoming OSC message on the control port and says what it asks for.

``parse(address, params)`` returns a ``Command`` or raises ``BadMessage`` whose
text is one line naming the address and what is wrong (unknown address, wrong
argument count or type, NaN/Inf, out of range). Nothing is clamped: a value out
of range is refused. Pure: applying a command is the service's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..rt import layout


class BadMessage(Exception):
    """An OSC message kelly does not take; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class Command:
    kind: str  # "set" (slot, value), "reload", "subscribe" / "unsubscribe" (value: port or None)
    slot: int = -1  # layout.S_* for "set"
    value: float | int | None = None


# address -> (state slot, lowest, highest)
_FLOATS = {
    "/kelly/user/valence": (layout.S_USER_V, -1.0, 1.0),
    "/kelly/user/arousal": (layout.S_USER_A, -1.0, 1.0),
    "/kelly/blend": (layout.S_BLEND, 0.0, 1.0),
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
            return Command("set", layout.S_ML_ON, 1.0 if x else 0.0)
        if isinstance(x, int | float) and x in (0, 1):
            return Command("set", layout.S_ML_ON, float(x))
        raise BadMessage(f"{address}: expects 1 or 0 (or T/F), got {_show(x)}")
    if address == "/kelly/reload":
        if params:
            raise BadMessage(f"{address}: takes no arguments, got {len(params)}")
        return Command("reload")
    if address in ("/kelly/subscribe", "/kelly/unsubscribe"):
        return Command(address.rpartition("/")[2], value=_port(address, params))
    raise BadMessage(f"unknown address {_show(address)}")
