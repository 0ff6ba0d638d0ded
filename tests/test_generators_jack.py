"""Generators on a real jackd: the harmony generator's notes reach a real MIDI client, none hangs."""

from __future__ import annotations

import os
import re
import time

import pytest
from jackd import Kelly, MidiRecorder, wait_until, write_config

from kelly_jack.midi.generators.harmony import MODES

pytestmark = pytest.mark.jack


@pytest.fixture
def recorder(jack_server):
    rec = MidiRecorder(jack_server, f"rec{os.getpid()}{time.monotonic_ns() % 10000}")
    yield rec
    rec.close()


def test_harmony_notes_arrive_in_scale_in_order_and_end_on_shutdown(jack_server, tmp_path, recorder):
    name = f"kg{os.getpid()}"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1, outputs: false}\n"
        "backend: {name: constant, valence: 0.3, arousal: 0.5}\nemotion: {smoothing_ms: 0}\n"
        f"connect: {{midi_out: ['{recorder.client.name}:in']}}\n"
        "tempo: {bpm: 150}\n"
        "generators:\n  chords: {type: harmony, channel: 3, key: G}\n",
    )
    kelly = Kelly(jack_server, cfg)
    kelly.wait_ready()

    def notes_on():
        return [e for e in recorder.events if e[1][0] == 0x92 and e[1][2] > 0]

    assert wait_until(lambda: len(notes_on()) >= 30, 20), kelly.stop()
    code, out, err = kelly.stop()
    assert code == 0, err
    time.sleep(0.1)
    ons = notes_on()
    scale = {(7 + s) % 12 for s in MODES["major"]}  # valence 0.3: major, key G
    assert {d[1] % 12 for _, d in ons} <= scale
    frames = [t for t, _ in recorder.events]
    assert frames == sorted(frames)
    sounding: dict[int, int] = {}
    for _, d in recorder.events:
        if d[0] == 0x92 and d[2] > 0:
            sounding[d[1]] = sounding.get(d[1], 0) + 1
        elif d[0] in (0x82, 0x92):
            sounding[d[1]] = sounding.get(d[1], 0) - 1
    assert all(c <= 0 for c in sounding.values()), f"hanging notes: {sounding}"
    assert any(d == bytes([0xB2, 123, 0]) for _, d in recorder.events)  # all notes off at shutdown
    m = re.search(r"generator events (\d+) sent, (\d+) late", out)
    assert m and int(m.group(1)) == len([e for e in recorder.events if e[1][0] & 0x0F == 2])
    assert int(m.group(2)) == 0


def test_an_unknown_generator_type_names_the_config_line(jack_server, tmp_path):
    cfg = write_config(
        tmp_path / "k.yaml", jack_server, "kx", "backend: {name: constant}\ngenerators:\n  g: {type: bells}\n"
    )
    kelly = Kelly(jack_server, cfg)
    code, _, err = kelly.wait(20)
    assert code == 2
    assert f"{cfg}:6: generators.g: generator type 'bells': unknown (available: harmony" in err
