"""One frame of the monitor, drawn with rich from a figures dict and the last minute of valence/arousal.

``History`` keeps (time, valence, arousal) samples for ``HISTORY_S`` seconds;
``frame`` builds the rich renderable; ``plain_text`` renders it without colour
or cursor codes (``kelly-jack monitor --once``, logs, tests). Main thread only.
"""

from __future__ import annotations

import io
import math
from collections import deque

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..engine.report import status_line

HISTORY_S = 60.0
COLUMNS = 60  # one sparkline column per second
LEVELS = "▁▂▃▄▅▆▇█"
GRID = 8


class History:
    """Valence/arousal samples of the last ``HISTORY_S`` seconds (monotonic time in seconds)."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, float, float]] = deque()

    def add(self, t: float, valence: float, arousal: float) -> None:
        self.samples.append((t, valence, arousal))
        while self.samples and self.samples[0][0] < t - HISTORY_S:
            self.samples.popleft()

    def columns(self, now: float, which: int) -> list[float | None]:
        """Mean of ``which`` (1 valence, 2 arousal) per second, oldest first; None where no sample."""
        sums = [0.0] * COLUMNS
        counts = [0] * COLUMNS
        for sample in self.samples:
            age = now - sample[0]
            col = COLUMNS - 1 - int(age * COLUMNS / HISTORY_S)
            x = sample[which]
            if 0 <= col < COLUMNS and math.isfinite(x):
                sums[col] += x
                counts[col] += 1
        return [s / c if c else None for s, c in zip(sums, counts, strict=True)]


def sparkline(values: list[float | None]) -> str:
    """-1..1 as block heights; a gap (no sample) is a space."""
    out = []
    for x in values:
        if x is None:
            out.append(" ")
        else:
            level = int(round((max(-1.0, min(1.0, x)) + 1.0) / 2.0 * (len(LEVELS) - 1)))
            out.append(LEVELS[level])
    return "".join(out)


def _us(x) -> str:
    return "-" if x is None or not math.isfinite(float(x)) else f"{float(x):.0f} us"


def _ms(us) -> str:
    return "-" if us is None or not math.isfinite(float(us)) else f"{float(us) / 1000.0:.3f} ms"


def _trend(history: History, now: float, which: int, label: str, value: float) -> Text:
    cols = history.columns(now, which)
    seen = [x for x in cols if x is not None]
    span = f"min {min(seen):+.2f} max {max(seen):+.2f}" if seen else "no samples yet"
    line = Text(f"{label:<8} {value:+.2f} ")
    line.append("|" + sparkline(cols) + "|", style="cyan" if which == 1 else "magenta")
    line.append(f" {span}")
    return line


def _grid(emotion: list[float] | None) -> Table:
    """8x8 probabilities in percent, arousal +1 on top, valence -1 on the left (index row * 8 + col)."""
    t = Table(
        show_header=True,
        box=None,
        pad_edge=False,
        padding=(0, 1),
    )
    t.add_column("a\\v", justify="right")
    for c in range(GRID):
        t.add_column(f"{-1.0 + 2.0 * c / (GRID - 1):+.2f}", justify="right")
    if emotion is None or len(emotion) != GRID * GRID:
        t.add_row("", "no result yet")
        return t
    peak = max(emotion)
    for r in reversed(range(GRID)):
        cells = []
        for c in range(GRID):
            p = float(emotion[r * GRID + c])
            shade = 232 + int(round(23 * (p / peak if peak > 0 else 0.0)))
            style = f"on color({shade})" + (" bold" if p == peak else "")
            cells.append(Text(f"{100.0 * p:5.0f}", style=style))
        t.add_row(f"{-1.0 + 2.0 * r / (GRID - 1):+.2f}", *cells)
    return t


def frame(f: dict, history: History, now: float, source: str, age_s: float | None = None) -> Group:
    """The monitor's picture of figures ``f`` (``osc.snapshot.collect`` keys) seen from ``source``."""
    rate, latency = int(f["rate"]), int(f["latency_frames"])
    period_us = 1e6 * f["blocksize"] / rate if rate else float("nan")
    hop_ms = 1000.0 * f["hop"] / rate if rate else float("nan")
    stale = "" if age_s is None or age_s < 2.0 else f"  [no status for {age_s:.0f} s]"
    head = Text(f"kelly-jack monitor: {source}, {rate} Hz, {int(f['blocksize'])} frames/period{stale}", style="bold")
    ml = "on" if f["ml"] else "off"
    rows = [
        head,
        Text(status_line(f, rate, latency)),
        Text(
            f"valence {f['valence']:+.2f}  arousal {f['arousal']:+.2f}  dominance {f['dominance']:+.2f}  "
            f"confidence {f['confidence']:.2f}  (model {f['model_valence']:+.2f}/{f['model_arousal']:+.2f}, "
            f"user {f['user_valence']:+.2f}/{f['user_arousal']:+.2f}, blend {f['blend']:.2f}, ML {ml})"
        ),
        Text("last 60 s, one column a second:"),
        _trend(history, now, 1, "valence", f["valence"]),
        _trend(history, now, 2, "arousal", f["arousal"]),
        Text("emotion grid, softmax % (columns: valence -1 .. +1; rows: arousal +1 .. -1):"),
        _grid(f.get("emotion")),
        Text(f"latency        {latency} frames ({f['latency_ms']:.1f} ms)"),
        Text(
            f"audio thread   max {_us(f['time_max_us'])}, p50 {_us(f['time_p50_us'])}, "
            f"p99.9 {_us(f['time_p999_us'])} (period {_us(period_us)})"
        ),
        Text(
            f"inference      last {_ms(f['infer_last_us'])}, mean {_ms(f['infer_mean_us'])}, "
            f"max {_ms(f['infer_max_us'])} (hop {hop_ms:.1f} ms)"
        ),
        Text(
            f"xruns {f['xruns']}   late results {f['late']}   applied {f['applied']}   "
            f"skipped hops {f['skipped_hops']}   backend errors {f['backend_errors'] + f['nonfinite']}   "
            f"periods {f['periods']}"
        ),
        Text(
            f"MIDI out {f['midi_sent']} CC + {f['events_sent']} events, {f['midi_dropped']} dropped, "
            f"{f['midi_in']} CC in   reloads {f['reloads']} ({f['reload_refused']} refused)   "
            f"bad OSC {f['osc_bad']}"
        ),
    ]
    return Group(*rows)


def plain_text(renderable, width: int = 160) -> str:
    """``renderable`` as plain text (no colour, no cursor codes)."""
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False, legacy_windows=False).print(renderable)
    return buf.getvalue()
