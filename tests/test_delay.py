"""The delay line kernel: every output frame is the input frame L earlier, silence before the start."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.rt.delay import delay_capacity, delay_process


@pytest.mark.parametrize("latency", [0, 1, 31, 1984, 4096])
def test_output_is_input_delayed_by_exactly_latency(latency):
    rng = np.random.default_rng(latency)
    signal = rng.standard_normal(20000).astype(np.float32)
    line = np.zeros(delay_capacity(latency), dtype=np.float32)
    out = np.zeros_like(signal)
    pos = 0
    for n in rng.integers(1, 1025, size=100):  # periods of any size, as PipeWire may pass
        n = int(min(n, len(signal) - pos))
        delay_process(line, pos, latency, signal[pos : pos + n], out[pos : pos + n], n)
        pos += n
        if pos == len(signal):
            break
    assert np.array_equal(out[latency:pos], signal[: pos - latency])
    assert np.all(out[: min(latency, pos)] == 0.0)


def test_capacity_holds_latency_plus_the_largest_period():
    for latency in (0, 1906, 1984, 2944, 100000):
        cap = delay_capacity(latency)
        assert cap & (cap - 1) == 0
        assert cap >= latency + 8192
        assert cap < 2 * (latency + 8192)
