"""The status fields (``engine/status.py``): declared once, read by the report, the OSC stream and the docs."""

from __future__ import annotations

import numpy as np

from kelly_jack.engine import report, status
from kelly_jack.engine.state import SharedState
from kelly_jack.osc import addresses
from kelly_jack.rt import shared_state


class _Inference:
    """What the report reads of the inference thread: its counters."""

    def __init__(self):
        self.counters = np.zeros(shared_state.N_INFERENCE_COUNTERS, dtype=np.int64)


def test_each_field_is_declared_once_and_the_osc_status_is_derived_from_them():
    names = [f.name for f in status.FIELDS]
    assert len(names) == len(set(names))
    assert all(f.kind in ("i", "f") and f.meaning for f in status.FIELDS)
    assert addresses.STATUS == [(f.name, f.kind, f.meaning) for f in status.FIELDS if f.osc]


def test_the_report_reads_every_field_it_has_a_source_for_and_formats_them():
    f = report.figures(SharedState(2), _Inference())
    assert list(f) == [x.name for x in status.FIELDS if x.read is not None]
    f |= {x.name: 0 for x in status.FIELDS if x.read is None}
    assert "0 xruns" in report.summary(f, 48000, 128, 1984)
    assert "xruns 0" in report.status_line(f, 48000, 1984)
