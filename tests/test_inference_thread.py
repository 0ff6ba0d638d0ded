"""The inference thread's windowing, frame stamps, lag handling and error counting, driven without JACK.

The test plays the audio thread's part with the same ring kernels the audio
callback uses (write all channels, commit; or count an overflow).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kelly_jack.backends import FunctionBackend, create_backend
from kelly_jack.engine.state import SharedState
from kelly_jack.inference import InferenceThreadManager
from kelly_jack.rt import ring
from kelly_jack.rt.emotion import logits_for
from kelly_jack.rt.shared_state import (
    I_ERRORS,
    I_NONFINITE,
    I_RESULTS,
    I_RESYNCS,
    I_SKIPPED,
    R_AROUSAL,
    R_FRAME,
    R_VALENCE,
)

from support.rings import audio_period, results

WINDOW, HOP = 256, 64


def manager(state, backend, channel=-1):
    m = InferenceThreadManager(state, backend, WINDOW, HOP, channel, -1)
    m._resync()
    return m


def test_one_result_per_hop_stamped_with_the_window_end():
    state = SharedState(2, audio_frames=1024)
    seen = []
    m = manager(state, FunctionBackend(lambda f: (seen.append(f.copy()), logits_for(0.5, -0.5))[1]))
    frame = 0
    for _ in range(20):
        audio_period(state, np.full((2, 32), frame, dtype=np.float32))
        frame += 32
        while m.process_available():
            pass
    stamps = [int(r[R_FRAME]) for r in results(state)]
    assert stamps == list(range(WINDOW - 1, 640, HOP))  # the last frame of each window
    assert m.counters[I_RESULTS] == len(stamps)
    assert m.counters[I_SKIPPED] == 0
    r = state.results[0]
    assert r[R_VALENCE] == pytest.approx(0.5) and r[R_AROUSAL] == pytest.approx(-0.5)


def test_window_holds_the_mix_of_the_frames_before_its_stamp():
    state = SharedState(2, audio_frames=1024)
    windows = []
    m = manager(state, FunctionBackend(lambda f: (windows.append(m._buf.copy()), np.zeros(64))[1]))
    ramp = np.arange(512, dtype=np.float32)
    audio_period(state, np.stack([ramp, 3 * ramp]))
    while m.process_available():
        pass
    stamps = [int(r[R_FRAME]) for r in results(state)]
    for stamp, window in zip(stamps, windows, strict=True):
        assert np.array_equal(window, 2 * ramp[stamp - WINDOW + 1 : stamp + 1])  # mean of ramp and 3*ramp


def test_a_slow_backend_skips_to_the_newest_hop():
    state = SharedState(1, audio_frames=4096)
    m = manager(state, create_backend("constant", {}))
    audio_period(state, np.zeros((1, WINDOW + 5 * HOP), dtype=np.float32))
    assert m.process_available() == 1
    assert m.counters[I_SKIPPED] == 5
    assert int(results(state)[0][R_FRAME]) == WINDOW + 5 * HOP - 1


def test_overflow_resyncs_and_stamps_stay_on_the_client_time_line():
    state = SharedState(1, audio_frames=512)
    m = manager(state, create_backend("constant", {}))
    client_frame = 0
    for _ in range(24):  # 768 frames without reading: the ring (512) overflows
        audio_period(state, np.zeros((1, 32), dtype=np.float32))
        client_frame += 32
    dropped = int(state.audio_hdr[ring.H_OVERFLOW])
    assert dropped == 256
    assert m.process_available() == 0  # sees the overflow, resyncs
    assert m.counters[I_RESYNCS] == 1
    for _ in range(WINDOW // 32):
        audio_period(state, np.zeros((1, 32), dtype=np.float32))
        client_frame += 32
    assert m.process_available() == 1
    (r,) = results(state)
    assert int(r[R_FRAME]) == client_frame - 1  # ring position + dropped frames = client frames


def test_windows_sit_on_a_grid_of_client_frames_even_after_an_overflow():
    state = SharedState(1, audio_frames=512)
    m = manager(state, create_backend("constant", {}))
    stamps = []
    for burst in (20, 24, 30):  # nothing is read during the second burst: the ring overflows
        for _ in range(burst):
            audio_period(state, np.zeros((1, 32), dtype=np.float32))
            if burst != 24:
                while m.process_available():
                    pass
        while m.process_available():
            pass
        stamps += [int(r[R_FRAME]) for r in results(state)]
    assert state.audio_hdr[ring.H_OVERFLOW] > 0
    assert m.counters[I_RESYNCS] == 1
    assert len(stamps) >= 10
    assert all((s + 1) % HOP == 0 for s in stamps)  # last frames on the hop grid of client frames
    assert stamps == sorted(set(stamps))


@pytest.mark.parametrize(
    ("name", "options", "counter"),
    [("failing", {}, I_ERRORS), ("failing", {"mode": "nan"}, I_NONFINITE)],
)
def test_backend_failures_are_dropped_and_counted(name, options, counter, capsys):
    state = SharedState(1, audio_frames=1024)
    m = manager(state, create_backend(name, options))
    audio_period(state, np.zeros((1, WINDOW), dtype=np.float32))
    assert m.process_available() == 0
    assert m.counters[counter] == 1
    assert results(state) == []
    assert "dropped; counted" in capsys.readouterr().err


def test_wrong_shape_is_dropped():
    state = SharedState(1, audio_frames=1024)
    m = manager(state, FunctionBackend(lambda f: np.zeros(10)))
    audio_period(state, np.zeros((1, WINDOW), dtype=np.float32))
    assert m.process_available() == 0
    assert m.counters[I_NONFINITE] == 1


def test_set_inference_function_swaps_the_model():
    state = SharedState(1, audio_frames=2048)
    m = manager(state, create_backend("constant", {"valence": -1.0}))
    audio_period(state, np.zeros((1, WINDOW), dtype=np.float32))
    m.process_available()
    m.set_inference_function(lambda f: logits_for(1.0, 0.0))
    audio_period(state, np.zeros((1, HOP), dtype=np.float32))
    m.process_available()
    assert [round(r[R_VALENCE], 6) for r in results(state)] == [-1.0, 1.0]


def test_the_thread_runs_and_stops(tmp_path):
    state = SharedState(1, audio_frames=4096)
    m = InferenceThreadManager(state, create_backend("constant", {}), WINDOW, HOP, -1, -1)
    m.warm_up()
    m.start()
    try:
        for expected, frames in ((1, WINDOW), (2, HOP)):
            audio_period(state, np.zeros((1, frames), dtype=np.float32))
            deadline = time.monotonic() + 5
            while m.counters[I_RESULTS] < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            assert m.counters[I_RESULTS] == expected
    finally:
        m.stop()
    assert not m.alive


class _Counting(FunctionBackend):
    """A recurrent stand-in: its output is the number of steps since its last reset."""

    def __init__(self, fail_reset: bool = False):
        super().__init__(lambda f: np.full(64, float(self.steps)), "counting")
        self.steps, self.resets, self.fail_reset = 0, 0, fail_reset

    def infer(self, features):
        self.steps += 1
        return super().infer(features)

    def reset(self):
        self.resets += 1
        if self.fail_reset:
            raise RuntimeError("no reset today")
        self.steps = 0


def test_an_overflow_resets_the_backend_so_a_recurrent_model_starts_over():
    state = SharedState(1, audio_frames=512)
    backend = _Counting()
    m = manager(state, backend)
    assert backend.resets == 1  # at the start
    for _ in range(12):
        audio_period(state, np.zeros((1, 32), dtype=np.float32))
        while m.process_available():
            pass
    assert backend.steps > 1 and backend.resets == 1  # hops do not reset it
    for _ in range(24):  # nothing read: the ring overflows
        audio_period(state, np.zeros((1, 32), dtype=np.float32))
    assert m.process_available() == 0
    assert m.counters[I_RESYNCS] == 1 and backend.resets == 2 and backend.steps == 0
    for _ in range(WINDOW // 32):
        audio_period(state, np.zeros((1, 32), dtype=np.float32))
    assert m.process_available() == 1
    assert backend.steps == 1  # the first step after the gap


def test_a_reset_that_raises_counts_as_a_failed_hop():
    state = SharedState(1, audio_frames=512)
    m = manager(state, _Counting(fail_reset=True))
    assert m.counters[I_ERRORS] == 1
