"""Plugins that raise, hang or return garbage are isolated: the guard, the event batch, the inference thread
and the generator runner driven without JACK (the JACK end-to-end case is in test_plugin_isolation_jack.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kelly_jack.backends import FunctionBackend, create_backend
from kelly_jack.engine.state import SharedState
from kelly_jack.inference import InferenceThreadManager
from kelly_jack.inference.guard import FailureTracker, PluginCaller, PluginTimeout
from kelly_jack.midi.batch import MAX_EVENTS, EventBatch
from kelly_jack.midi.runner import GeneratorRunner
from kelly_jack.midi.scheduler import EventScheduler
from kelly_jack.rt import midi_events
from kelly_jack.rt.emotion import logits_for
from kelly_jack.rt.shared_state import I_ERRORS, I_REPLACED, I_TIMEOUTS, R_VALENCE

from support.rings import audio_period, results

WINDOW, HOP = 256, 64  # analysis window and hop in frames, small enough for quick tests

RELEASE = threading.Event()  # set at the end of the module so no abandoned worker outlives the tests


@pytest.fixture(scope="module", autouse=True)
def _release_hung_workers():
    yield
    RELEASE.set()


def hang(*_):
    RELEASE.wait()


# ------------------------------------------------------------------ the caller


def test_the_caller_returns_results_and_reraises_errors():
    c = PluginCaller()
    assert c.call(lambda a, b: a + b, 2, 3, timeout_s=1.0) == 5
    with pytest.raises(KeyError, match="boom"):
        c.call(lambda: {}["boom"], timeout_s=1.0)
    assert c.call(lambda: "still works", timeout_s=1.0) == "still works"
    c.close()


def test_a_hung_call_is_abandoned_at_its_deadline_and_its_late_result_never_surfaces():
    c = PluginCaller()
    late = threading.Event()

    def slow():
        late.wait()
        return "late"

    t0 = time.monotonic()
    with pytest.raises(PluginTimeout, match="no answer within 50 ms"):
        c.call(slow, timeout_s=0.05)
    assert time.monotonic() - t0 < 1.0
    assert c.abandoned == 1
    late.set()  # the abandoned call returns now: its result belongs to nobody
    assert c.call(lambda: "fresh", timeout_s=1.0) == "fresh"
    c.close()


def test_failure_tracker_gives_up_after_failures_in_a_row_or_at_once_on_a_hang():
    t = FailureTracker(3)
    assert not t.failed() and not t.failed()
    t.ok()
    assert not t.failed() and not t.failed() and t.failed()
    t.ok()
    assert t.failed(hung=True)


# ---------------------------------------------------------------- the batch


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda b: b.push(1000, (0xF0, 1, 2)), "channel messages"),
        (lambda b: b.push(1000, (0x90, 128, 1)), "data bytes are 0..127"),
        (lambda b: b.push(1000, (0x90, -1, 1)), "data bytes are 0..127"),
        (lambda b: b.push(1000, (0x90, 1.5, 1)), "must be integers"),
        (lambda b: b.push(1000, ()), "1 to 3 bytes"),
        (lambda b: b.push(float("nan"), (0x90, 60, 1)), "whole number"),
        (lambda b: b.push(1000.5, (0x90, 60, 1)), "whole number"),
        (lambda b: b.push(1 << 40, (0x90, 60, 1)), "outside this hop's reach"),
        (lambda b: b.push(-1, (0x90, 60, 1)), "outside this hop's reach"),  # more than a hop early
        (lambda b: b.note(1000, 0, 0, 60, 100), "at least one"),
        (lambda b: b.note(1000, 10, 16, 60, 100), "channel is 0..15"),
        (lambda b: b.control_change(1000, -1, 7, 100), "channel is 0..15"),
    ],
)
def test_the_batch_refuses_garbage_with_a_message(write, message):
    b = EventBatch(1000, 2000, 48000)
    with pytest.raises(ValueError, match=message):
        write(b)
    assert b.events == []


def test_the_batch_caps_a_flood_and_moves_good_events_into_the_scheduler():
    b = EventBatch(1000, 2000, 48000)
    b.note(1000.0, 10, 2, 60, 100)  # a float frame that is a whole number is fine
    b.control_change(1999, 2, 7, 64)
    b.push(999, (0x82, 60, 0))  # a little early (rounding): allowed, sent late
    hdr, data = midi_events.new_events(64)
    s = EventScheduler(hdr, data)
    assert b.move_into(s) == 4 and s.pending == 4
    flood = EventBatch(0, 1000, 48000)
    with pytest.raises(ValueError, match=f"more than {MAX_EVENTS}"):
        for _ in range(MAX_EVENTS + 1):
            flood.push(0, (0x90, 60, 1))


# ------------------------------------------------------- the inference thread


def hops(state, m, n):
    pushed = 0
    for _ in range(n):
        audio_period(state, np.zeros((1, HOP), dtype=np.float32))
        pushed += m.process_available()
    return pushed


def test_a_backend_that_hangs_is_replaced_by_one_holding_its_last_good_output(capsys):
    calls = {"n": 0}

    def model(features):
        calls["n"] += 1
        if calls["n"] > 3:
            hang()
        return logits_for(0.6, 0.0)

    state = SharedState(1, audio_frames=1024)
    m = InferenceThreadManager(state, FunctionBackend(model, "sleepy"), WINDOW, HOP, -1, -1, timeout_s=0.1)
    m._resync()
    audio_period(state, np.zeros((1, WINDOW - HOP), dtype=np.float32))
    assert hops(state, m, 3) == 3
    t0 = time.monotonic()
    assert hops(state, m, 1) == 0  # the hung hop: abandoned at the deadline
    assert time.monotonic() - t0 < 2.0
    assert m.counters[I_TIMEOUTS] == 1 and m.counters[I_REPLACED] == 1
    assert m.backend.name == "hold-last (replacing sleepy)"
    assert hops(state, m, 4) == 4  # results go on, from the stub
    values = [r[R_VALENCE] for r in results(state)]
    assert len(values) == 7 and np.allclose(values, values[0]) and values[0] > 0.4
    assert "backend sleepy hangs: no answer within 100 ms; backend replaced" in capsys.readouterr().err
    m.set_inference_function(lambda f: logits_for(-0.6, 0.0))  # a reload brings a model back
    assert hops(state, m, 1) == 1
    assert results(state)[0][R_VALENCE] < -0.4
    m.stop()


def test_a_backend_failing_every_hop_is_replaced_after_max_failures_and_a_neutral_stub_if_never_good(capsys):
    state = SharedState(1, audio_frames=1024)
    m = InferenceThreadManager(state, create_backend("failing", {}), WINDOW, HOP, -1, -1, max_failures=3)
    m._resync()
    audio_period(state, np.zeros((1, WINDOW - HOP), dtype=np.float32))
    assert hops(state, m, 2) == 0 and m.counters[I_REPLACED] == 0
    assert hops(state, m, 1) == 0 and m.counters[I_REPLACED] == 1 and m.counters[I_ERRORS] == 3
    assert hops(state, m, 2) == 2
    assert all(abs(r[R_VALENCE]) < 1e-9 for r in results(state))  # never good: the grid's centre
    assert "replaced by one that holds its last good output" in capsys.readouterr().err
    m.stop()


def test_intermittent_failures_never_replace_the_backend():
    state = SharedState(1, audio_frames=1024)
    m = InferenceThreadManager(state, create_backend("failing", {"every": 2}), WINDOW, HOP, -1, -1, max_failures=2)
    m._resync()
    audio_period(state, np.zeros((1, WINDOW - HOP), dtype=np.float32))
    assert hops(state, m, 10) == 5
    assert m.counters[I_REPLACED] == 0 and m.backend.name == "failing"
    m.stop()


# ------------------------------------------------------------ the generators


class Plays:
    """A note at the start of each hop on ``channel``; then misbehaves as ``how`` from call ``after`` on."""

    def __init__(self, name, channel, how=None, after=0):
        self.name, self.channel, self.how, self.after, self.calls = name, channel, how, after, 0

    def generate(self, moment, out):
        self.calls += 1
        out.note(moment.start, 10, self.channel, 60, 100)
        if self.how and self.calls > self.after:
            if self.how == "hang":
                hang()
            if self.how == "raise":
                raise RuntimeError("generator bug")
            out.note(moment.start, 10, self.channel, 999, 100)  # garbage

    def reset(self):
        pass


@pytest.mark.parametrize("how", ["hang", "raise", "garbage"])
def test_a_misbehaving_generator_is_dropped_and_the_others_go_on(how, capsys):
    good = Plays("good", 0)
    bad = Plays("bad", 1, how, after=2)
    hdr, data = midi_events.new_events(4096)
    sched = EventScheduler(hdr, data)
    runner = GeneratorRunner([good, bad], sched, 48000, 0, 1024, timeout_s=0.1, max_failures=3)
    pushed = []
    real_push = sched.push
    sched.push = lambda frame, msg: (pushed.append((frame, tuple(msg))), real_push(frame, msg))[1]
    for k in range(8):
        runner.after_result(1024 * (k + 1) - 1, 0.0, 0.0)
    runner.stop(1024 * 10)
    assert runner.generators == [good] and runner.dropped == ["bad"]
    assert good.calls == 8
    bad_ons = [f for f, m in pushed if m[0] == 0x91]
    assert len(bad_ons) == 2  # its good calls only: a failed call leaves nothing, not even its first note
    assert all(m[1] <= 127 for _, m in pushed)
    assert "generator dropped" in capsys.readouterr().err
