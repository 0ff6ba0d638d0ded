"""``kelly-jack render``: the live engine over a file. Outputs, determinism, errors, and live == offline on jackd."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from kelly_jack.backends import create_backend
from kelly_jack.config import parse_config
from kelly_jack.midi.generators.harmony import Harmony
from kelly_jack.offline.engine import OfflineEngine

from support.cfunc_clients import CfuncClient, MidiRecorder, Player
from support.jackd import ON_PIPEWIRE, Kelly, new_server, pipewire_lacks, wait_until, write_config

RATE = 48000
CONFIG = """\
ports: {inputs: 1, outputs: false}
backend: {name: heuristic}
tempo: {bpm: 132, follow_transport: false}
generators:
  chords: {type: harmony, channel: 2, key: A}
"""


def chirp(seconds: float = 6.0) -> np.ndarray:
    """A rising, swelling tone: the heuristic backend's valence and arousal move with it."""
    t = np.arange(int(seconds * RATE)) / RATE
    freq = 220 * 2 ** (t / 3)
    return (0.5 * np.sin(2 * np.pi * np.cumsum(freq) / RATE) * np.minimum(1.0, 0.1 + t / 3)).astype(np.float32)


def kelly_render(tmp_path: Path, *args: str, config: str = CONFIG) -> subprocess.CompletedProcess:
    cfg = tmp_path / "r.yaml"
    cfg.write_text(config)
    return subprocess.run(
        [sys.executable, "-m", "kelly_jack", "render", *args, "--config", str(cfg)], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("render") / "chirp.wav"
    sf.write(path, chirp(), RATE, subtype="FLOAT")
    return path


def test_render_writes_midi_csv_plot_and_features_and_is_deterministic(tmp_path, wav):
    out = tmp_path / "a.mid"
    r = kelly_render(tmp_path, str(wav), "-o", str(out), "--csv", str(tmp_path / "a.csv"), "--plot",
                     str(tmp_path / "a.png"), "--features", str(tmp_path / "a.npy"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert re.search(r"a\.mid: \d+ MIDI events \(\d+ notes\) from \d+ results", r.stderr)
    mid = mido.MidiFile(out)
    notes = [m for m in mid.tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert len(notes) > 20 and all(m.channel == 1 for m in notes)
    ccs = [m for m in mid.tracks[0] if m.type == "control_change" and m.control in (20, 21)]
    assert ccs  # the emotion CCs of the audio kernel come out too
    rows = list(csv.DictReader(open(tmp_path / "a.csv")))
    features = np.load(tmp_path / "a.npy")
    assert len(rows) == features.shape[0] > 250 and features.shape[1] == 128
    assert int(rows[0]["window_end_frame"]) == 2047 and int(rows[0]["output_frame"]) == 2047 + 1984
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = tmp_path / "b.mid"
    r2 = kelly_render(tmp_path, str(wav), "-o", str(again), "--plot", str(tmp_path / "b.png"))
    assert r2.returncode == 0, r2.stderr
    assert again.read_bytes() == out.read_bytes()
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_render_features_equal_the_features_tool(tmp_path, wav):
    assert kelly_render(tmp_path, str(wav), "-o", str(tmp_path / "a.mid"), "--features", str(tmp_path / "r.npy"))
    dump = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "features", str(wav), "-o", str(tmp_path / "f.npy")], capture_output=True
    )
    assert dump.returncode == 0
    rendered, dumped = np.load(tmp_path / "r.npy"), np.load(tmp_path / "f.npy")
    np.testing.assert_array_equal(rendered[: len(dumped)], dumped)  # the render goes on into the silent tail


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.wav", "-o", "x.mid"], "missing.wav: no such file"),
        (["{wav}", "-o", "nodir/x.mid"], "nodir/x.mid: directory nodir does not exist"),
        (["{wav}", "-o", "x.mid", "--block", "0"], "--block must be 1..8192"),
    ],
)
def test_render_errors_are_one_line_and_leave_nothing(tmp_path, wav, args, words):
    os.chdir(tmp_path)
    r = kelly_render(tmp_path, *[a.format(wav=wav) for a in args])
    assert r.returncode == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not any(p.suffix in (".mid", ".tmp") for p in tmp_path.iterdir())


def test_a_stereo_file_for_a_mono_client_is_refused(tmp_path):
    path = tmp_path / "st.wav"
    sf.write(path, np.zeros((4800, 2), dtype=np.float32), RATE)
    r = kelly_render(tmp_path, str(path), "-o", str(tmp_path / "x.mid"))
    assert r.returncode == 2 and "has 2 channels; ports.inputs is 1" in r.stderr


def test_the_block_size_only_moves_events_by_less_than_a_period():
    cfg = parse_config(CONFIG)
    x = chirp(3.0)[:, None]
    events = {}
    for block in (64, 256):
        e = OfflineEngine(cfg, create_backend("heuristic", {}), [Harmony({"channel": 2, "key": "A"})], RATE, 1, block)
        e.feed(x)
        e.finish()
        events[block] = [(f, m) for f, m in e.event_list() if m[0] & 0xF0 == 0x90]
    # generator notes sit on the musical grid, whatever the period size
    assert events[64] == events[256]


# ----------------------------------------------------------------- live == offline


# the live runs' period: at 128 frames this 2-core VM cost a cycle (an xrun) in about half the real-time
# runs even when idle, and the real-time comparison skipped in every CI run of an afternoon; at 512
# frames 4 of 4 were clean. Live == offline holds at any period (the render takes the same one).
LIVE_PERIOD = 512


@pytest.fixture(scope="module")
def jack_server():
    """A private jackd in synchronous mode (-S): a cycle ends only when every client has run."""
    server = new_server(period=LIVE_PERIOD, sync=True).start()
    yield server
    server.stop()


def live_events(jack_server, tmp_path, signal: np.ndarray, tag: str, freewheel: bool):
    """Play ``signal`` into a live kelly and record its midi_out: (events by client frame, signal start, stdout)."""
    name = f"kr{os.getpid()}-{tag}"
    rec = MidiRecorder(jack_server, f"rr{os.getpid()}-{tag}")
    player = Player(jack_server, signal, f"pr{os.getpid()}-{tag}")
    control = jack_server.client(f"fw{os.getpid()}-{tag}")
    cfg = write_config(
        tmp_path / f"k{tag}.yaml",
        jack_server,
        name,
        CONFIG + f"connect:\n  midi_out: ['^{rec.client.name}:in$']\n  in_1: ['^{player.client.name}:out$']\n",
    )
    try:
        kelly = Kelly(jack_server, cfg)
        try:
            kelly.wait_ready()
            time.sleep(0.3)
            if freewheel:
                control.set_freewheel(True)  # kelly's freewheel callback hears it: each period now waits
                time.sleep(0.3)  # let the switch settle (a cycle may be lost in it) before the signal
            player.play()
            assert wait_until(lambda: player.pos >= len(signal), 60)
            time.sleep((1984 + 4096) / RATE + (1.0 if freewheel else 0.3))  # the last results come out
            if freewheel:
                control.set_freewheel(False)
                freewheel = False
            code, out, err = kelly.stop()
        finally:
            kelly.stop()
        assert code == 0, err
        # as of kelly's last period; a cycle skipped before the signal started does not matter
        origin = int(re.search(r"JACK frame = client frame \+ (\d+)", out).group(1))
        return [(t - origin, d) for t, d in rec.events], player.started_at - origin, out
    finally:
        if freewheel:
            control.set_freewheel(False)  # a failed run must not leave the module's server freewheeling
        control.close()
        player.close()
        rec.close()


def offline_events(signal: np.ndarray, start: int) -> list[tuple[int, bytes]]:
    engine = OfflineEngine(parse_config(CONFIG), create_backend("heuristic", {}), [Harmony({"channel": 2, "key": "A"})],
                           RATE, 1, LIVE_PERIOD)  # fmt: skip
    engine.feed(np.zeros((start, 1), dtype=np.float32))
    engine.feed(signal[:, None])
    engine.feed(np.zeros((1984 + 4096, 1), dtype=np.float32))
    return engine.event_list()


def assert_live_equals_offline(live, signal: np.ndarray, start: int) -> int:
    """The events from the signal's first frame until the live run was stopped (its all-notes-off comes at
    another frame) must equal the offline render's, frame for frame; returns how many were compared.
    Before the signal, a cycle JACK skipped (an xrun in real time, before freewheeling began) shifts the
    JACK-to-client frame mapping, so those are left out."""
    cutoff = start + len(signal) + 1984
    live_part = [e for e in live if start <= e[0] < cutoff]
    offline_part = [e for e in offline_events(signal, start) if start <= e[0] < cutoff]
    assert len(offline_part) > 50
    assert live_part == offline_part
    return len(live_part)


def pipewire_freewheels_the_caller_only(server) -> None:
    """PipeWire 0.3.65 (measured): jack_set_freewheel(1) moves the calling client alone to the freewheel
    driver, where it gets no cycles, and the rest of the graph goes on in real time: no bounce."""
    control = CfuncClient(server, f"fwc{os.getpid()}")
    player = Player(server, np.zeros(1, np.float32), f"fwp{os.getpid()}")
    try:
        time.sleep(0.3)
        control.client.set_freewheel(True)
        time.sleep(0.3)
        before, t0, frame0 = control.cycles, time.monotonic(), player.client.frame_time
        time.sleep(1.0)
        rate = (player.client.frame_time - frame0) / (time.monotonic() - t0)
        assert control.cycles - before <= 1, control.cycles  # the freewheeling caller: (next to) no cycle in 1 s
        assert 0.8 * RATE < rate < 1.25 * RATE, rate  # the others: real time, not faster
    finally:
        control.client.set_freewheel(False)
        control.close()
        player.close()
    pipewire_lacks("jack_set_freewheel freewheels only the calling client, which then gets no cycles: no bounce")


@pytest.mark.jack
@pytest.mark.pipewire
def test_a_freewheel_bounce_sends_the_offline_render_frame_for_frame(jack_server, tmp_path):
    """JACK freewheels: each period waits for its inference, so the bounce is the render, event for event."""
    if ON_PIPEWIRE:
        pipewire_freewheels_the_caller_only(jack_server)
    signal = chirp(5.0)
    live, start, out = live_events(jack_server, tmp_path, signal, "fw", freewheel=True)
    assert start % LIVE_PERIOD == 0
    assert re.search(r"results \d+ applied, 0 late", out)
    print(f"live == offline: {assert_live_equals_offline(live, signal, start)} events, frame for frame")


@pytest.mark.jack
@pytest.mark.pipewire
@pytest.mark.xfail(
    ON_PIPEWIRE,
    strict=False,  # a run that loses no cycle matches (some CI runs xpass); most runs here lose one
    reason="PipeWire: no synchronous mode (jackd -S) and no xrun reports; a cycle lost on a loaded machine shifts "
    "the live events by whole periods against the render",
)
def test_a_real_time_run_sends_the_offline_render_frame_for_frame(jack_server, tmp_path):
    signal = chirp(5.0)
    for attempt in range(3):
        live, start, out = live_events(jack_server, tmp_path, signal, f"rt{attempt}", freewheel=False)
        xruns = int(re.search(r"(\d+) xruns", out).group(1))
        if xruns == 0:
            break
    else:
        pytest.skip(f"every live run had xruns on this machine (last: {xruns}); no undisturbed run to compare")
    assert re.search(r"results \d+ applied, 0 late", out)
    print(f"live == offline: {assert_live_equals_offline(live, signal, start)} events, frame for frame")
