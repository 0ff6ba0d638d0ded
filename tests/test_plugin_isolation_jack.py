"""A live kelly whose backend and one generator hang for good: it keeps playing on a real jackd."""

from __future__ import annotations

import os
import time

import pytest

from support.cfunc_clients import MidiRecorder
from support.jackd import ROOT, Kelly, wait_until, write_config

pytestmark = pytest.mark.jack


def test_a_hanging_backend_and_generator_are_replaced_while_the_music_goes_on(jack_server, tmp_path):
    recorder = MidiRecorder(jack_server, f"iso{os.getpid()}")
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        f"ki{os.getpid()}",
        "ports: {inputs: 1, outputs: false}\n"
        "plugins: {modules: [plugin_modules.misbehaving_plugin], timeout_ms: 300, max_failures: 5}\n"
        "backend: {name: hangs-later, good_calls: 30, valence: 0.5}\nemotion: {smoothing_ms: 0}\n"
        f"connect: {{midi_out: ['{recorder.client.name}:in']}}\n"
        "tempo: {follow_transport: false}\n"
        "generators:\n"
        "  stuck: {type: stuck, channel: 2, good_calls: 30}\n"
        "  junk: {type: garbage, channel: 3}\n"
        "  chords: {type: harmony, channel: 4}\n",
    )
    env = {**jack_server.env, "PYTHONPATH": str(ROOT / "tests")}
    kelly = Kelly(jack_server, cfg, env=env)
    try:
        kelly.wait_ready()
        # 30 good hops take ~0.64 s; then both hang, are given up on after 300 ms, and replaced
        assert wait_until(lambda: any(e[1][0] == 0x91 for e in recorder.events), 10)
        time.sleep(3.0)
        hung_at = len(recorder.events)
        time.sleep(2.0)
        after = recorder.events[hung_at:]
        t0 = time.monotonic()
        code, out, err = kelly.stop()
        stop_s = time.monotonic() - t0
    finally:
        kelly.stop()
        recorder.close()
    assert code == 0, err
    assert stop_s < 5.0  # the abandoned workers do not hold the exit up
    assert "backend hangs-later hangs: no answer within 300 ms; backend replaced" in err
    assert "generator stuck hangs: no answer within 300 ms; generator dropped" in err
    assert "generator garbage raised ValueError: MIDI data bytes are 0..127" in err
    assert "generator dropped (its sounding notes still end)" in err.split("generator garbage raised")[-1]
    assert "backend replaced by hold-last" in out
    # after the hangs: harmony still plays, the valence CC (20) holds the last good value (0.5 -> 95),
    # and nothing of the stuck or garbage generators sounds any more
    ons = [d for _, d in after if d[0] & 0xF0 == 0x90 and d[2] > 0]
    assert {d[0] & 0x0F for d in ons} == {3}, ons
    assert all(d[1] != 64 for d in ons if d[0] == 0x92)
    ccs = [(d[1], d[2]) for _, d in recorder.events if d[0] == 0xB0 and d[1] == 20]
    assert ccs and ccs[-1] == (20, 95)
