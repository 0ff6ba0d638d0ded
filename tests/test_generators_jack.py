"""Generators on a real jackd: the harmony generator's notes reach a real MIDI client, none hangs."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from kelly_jack.midi.generators.harmony import MODES

from support.cfunc_clients import MidiRecorder, TimebaseMaster
from support.jackd import ON_PIPEWIRE, Kelly, wait_until, write_config

pytestmark = [pytest.mark.jack, pytest.mark.pipewire]


@pytest.fixture
def recorder(jack_server):
    rec = MidiRecorder(jack_server, f"rec{os.getpid()}{time.monotonic_ns() % 10000}")
    yield rec
    rec.close()


def play_harmony(jack_server, tmp_path, recorder, attempt: int) -> tuple[list, str]:
    """Run kelly with the harmony generator into ``recorder`` until 30 notes arrived; (events, stdout)."""
    name = f"kg{os.getpid()}-{attempt}"
    cfg = write_config(
        tmp_path / f"k{attempt}.yaml",
        jack_server,
        name,
        "ports: {inputs: 1, outputs: false}\n"
        "backend: {name: constant, valence: 0.3, arousal: 0.5}\nemotion: {smoothing_ms: 0}\n"
        f"connect: {{midi_out: ['{recorder.client.name}:in']}}\n"
        "tempo: {bpm: 150}\n"
        "generators:\n  chords: {type: harmony, channel: 3, key: G}\n",
    )
    recorder.clear()
    kelly = Kelly(jack_server, cfg)
    kelly.wait_ready()
    notes_on = lambda: [e for e in recorder.events if e[1][0] == 0x92 and e[1][2] > 0]  # noqa: E731
    assert wait_until(lambda: len(notes_on()) >= 30, 20), kelly.stop()
    code, out, err = kelly.stop()
    assert code == 0, err
    time.sleep(0.1)
    return list(recorder.events), out


def test_harmony_notes_arrive_in_scale_in_order_and_end_on_shutdown(jack_server, tmp_path, recorder):
    # an xrun on this loaded VM can cost the recorder a cycle of events: judge an xrun-free run
    for attempt in range(4):
        events, out = play_harmony(jack_server, tmp_path, recorder, attempt)
        xruns = int(re.search(r"(\d+) xruns", out).group(1))
        if xruns == 0:
            break
    else:
        pytest.skip(f"every run had xruns on this machine (last: {xruns}); no undisturbed recording")
    ons = [d for _, d in events if d[0] == 0x92 and d[2] > 0]
    scale = {(7 + s) % 12 for s in MODES["major"]}  # valence 0.3: major, key G
    assert {d[1] % 12 for d in ons} <= scale
    frames = [t for t, _ in events]
    assert frames == sorted(frames)
    m = re.search(r"generator events (\d+) sent, (\d+) late", out)
    sent, late, received = int(m.group(1)), int(m.group(2)), len([e for e in events if e[1][0] & 0x0F == 2])
    sounding: dict[int, int] = {}
    for _, d in events:
        if d[0] == 0x92 and d[2] > 0:
            sounding[d[1]] = sounding.get(d[1], 0) + 1
        elif d[0] in (0x82, 0x92):
            sounding[d[1]] = sounding.get(d[1], 0) - 1
    hanging = sum(c for c in sounding.values() if c > 0)
    # PipeWire's libjack reports no xruns to its clients, so a disturbed run (a late kelly period, a recorder
    # cycle lost on this loaded VM, measured: 0-3 of ~60 events) cannot be told from a clean one: there a
    # note-on may lack its note-off only when the recorder lost as many events (here a note-on or note-off
    # went missing in 2 of 4 runs of the leg and 1 of 1, while other suites ran on the VM)
    assert hanging <= (sent - received if ON_PIPEWIRE else 0), (
        f"hanging notes: {sounding} ({sent} sent, {received} received)"
    )
    assert events[-1][1] == bytes([0xB2, 123, 0])  # all notes off at shutdown, last
    if ON_PIPEWIRE:
        assert sent - sent // 10 <= received <= sent and late <= sent // 10, (sent, received, late)
        return
    assert sent == received
    # an event is late only when its result was: the inference thread starved of CPU on a loaded VM
    late_results = int(re.search(r"(\d+) late,", out).group(1))
    assert late == 0 or late_results > 0, out


def test_an_unknown_generator_type_names_the_config_line(jack_server, tmp_path):
    cfg = write_config(
        tmp_path / "k.yaml", jack_server, "kx", "backend: {name: constant}\ngenerators:\n  g: {type: bells}\n"
    )
    kelly = Kelly(jack_server, cfg)
    code, _, err = kelly.wait(20)
    assert code == 2
    assert f"{cfg}:6: generators.g: generator type 'bells': unknown (available: cc, harmony)" in err


def test_harmony_follows_jack_transport_and_ends_its_notes_when_it_stops(jack_server, tmp_path, recorder):
    """90 BPM from a timebase master (kelly's own clock says 120): onsets sit on the master's grid; a
    transport stop ends every note (CC 123) and no note starts while stopped."""
    master = TimebaseMaster(jack_server, f"tb{os.getpid()}", 90.0, 3)
    name = f"kt{os.getpid()}"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1, outputs: false}\n"
        "backend: {name: constant, valence: 0.3, arousal: 0.0}\nemotion: {smoothing_ms: 0}\n"
        f"connect: {{midi_out: ['{recorder.client.name}:in']}}\n"
        "tempo: {bpm: 120, follow_transport: true}\n"
        "generators:\n  chords: {type: harmony, channel: 3, key: G}\n",
    )
    kelly = Kelly(jack_server, cfg)
    try:
        kelly.wait_ready()
        time.sleep(0.5)
        assert not [e for e in recorder.events if e[1][0] == 0x92]  # transport stopped: silence
        master.client.transport_start()
        assert wait_until(lambda: len([e for e in recorder.events if e[1][0] == 0x92 and e[1][2]]) >= 12, 20)
        master.client.transport_stop()
        stopped_at = len(recorder.events)
        assert wait_until(lambda: any(d == bytes([0xB2, 123, 0]) for _, d in recorder.events[stopped_at:]), 5)
        time.sleep(0.5)
        after = [d for _, d in recorder.events[stopped_at:] if d[0] == 0x92 and d[2] > 0]
        code, out, err = kelly.stop()
    finally:
        kelly.stop()
        master.close()
    assert code == 0, err
    assert after == []  # nothing starts while the transport is stopped
    onsets = sorted({t for t, d in recorder.events if d[0] == 0x92 and d[2] > 0})
    gaps = np.diff(onsets)
    # arousal 0: two notes a beat; at 90 BPM a beat is 32000 frames (at kelly's 120 it would be 24000).
    # JACK's transport frame stands still through a cycle lost to an xrun while frame time runs on, so
    # after each xrun the onsets land a period (or more) later against the recorder's clock: a gap
    # only ever grows. Exact on an xrun-free run; otherwise no gap is shorter than the master's half
    # beat (at 120 BPM most would be 12000), and the typical one is far from a 120 BPM beat.
    xruns = int(re.search(r"(\d+) xruns", out).group(1))
    assert gaps.min() >= 16000 - 2, (xruns, gaps)
    if xruns == 0:
        assert np.median(gaps) == pytest.approx(16000, abs=2), gaps
    else:
        assert np.median(gaps) < 20000, (xruns, gaps)
