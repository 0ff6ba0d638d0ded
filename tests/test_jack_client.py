"""kelly-jack against a real jackd (dummy driver): audio in, MIDI out, MIDI in, both audio-thread modes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import jack
import numpy as np
import pytest

from kelly_jack.rt.emotion import cc_value

from support.cfunc_clients import MidiRecorder, Player
from support.jackd import ON_PIPEWIRE, Kelly, wait_until, write_config

pytestmark = pytest.mark.jack

LATENCY = 960 + 1024  # 20 ms at 48 kHz + 1024 samples, the defaults
HOP = 1024


# kelly's `audio_thread: python` (a debug reference) runs in the PipeWire leg no more: PipeWire's libjack
# cancels a client's process thread at close, and one cancelled while it waits for the GIL leaves the GIL
# locked (kelly then hangs at exit and is killed; measured once in CI here). The native cfunc never takes it.
MODES = [pytest.param("native", marks=pytest.mark.pipewire), "python"]


def summary_numbers(out: str) -> dict[str, int]:
    """Figures of kelly's shutdown summary."""
    text = out[out.index("kelly-jack summary:") :]
    pick = {
        "periods": r"(\d+) periods",
        "xruns": r"(\d+) xruns",
        "applied": r"(\d+) applied",
        "late": r"(\d+) late",
        "dropped": r"(\d+) dropped \(",
        "backend_errors": r"(\d+) backend errors",
        "skipped": r"(\d+) hops skipped",
        "midi_sent": r"MIDI (\d+) sent",
        "midi_in": r"(\d+) CC in",
    }
    return {k: int(re.search(p, text).group(1)) for k, p in pick.items()}


@pytest.fixture
def recorder(jack_server):
    rec = MidiRecorder(jack_server, f"rec{os.getpid()}{time.monotonic_ns() % 10000}")
    yield rec
    rec.close()


def constant_kelly(jack_server, tmp_path, name: str, mode: str = "native", recorder=None) -> Kelly:
    """kelly with one input and the constant backend at valence 0.5 (CC 95), arousal -0.25 (CC 48); its
    midi_out connected to ``recorder`` by kelly itself, at start: a constant value is sent once, within
    ~85 ms of activation (window + latency), which a test connecting afterwards may miss under load."""
    connect = f"connect: {{midi_out: ['^{recorder.client.name}:in$']}}\n" if recorder is not None else ""
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        f"  audio_thread: {mode}\nports: {{inputs: 1}}\n"
        "backend: {name: constant, valence: 0.5, arousal: -0.25}\nemotion: {smoothing_ms: 0}\n" + connect,
    )
    return Kelly(jack_server, cfg)


@pytest.mark.parametrize("mode", MODES)
def test_constant_backend_values_arrive_as_cc(jack_server, recorder, tmp_path, mode):
    name = f"k-const-{mode}"
    kelly = constant_kelly(jack_server, tmp_path, name, mode, recorder)
    player = Player(jack_server, np.sin(np.arange(48000 * 3) * 0.05).astype(np.float32) * 0.3, f"pl-{mode}")
    try:
        started = kelly.wait_ready()
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        expected_v, expected_a = cc_value(0.5), cc_value(-0.25)
        assert (expected_v, expected_a) == (95, 48)
        assert wait_until(lambda: recorder.cc(20) and recorder.cc(20)[-1][1] == expected_v, 10)
        time.sleep(0.5)
        rc, out, err = kelly.stop()
    finally:
        player.close()
    assert rc == 0, err
    assert {v for _, v in recorder.cc(20)} <= {64, expected_v}
    assert recorder.cc(21)[-1][1] == expected_a
    assert {v for _, v in recorder.cc(21)} <= {64, expected_a}
    figures = summary_numbers(out)
    assert figures["applied"] > 10
    assert figures["dropped"] == 0
    assert f"audio thread {mode}" in started


@pytest.mark.parametrize("mode", MODES)
def test_result_applies_at_window_end_plus_latency(jack_server, recorder, tmp_path, mode):
    """Silence, then loud noise: the arousal CC moves exactly L frames after the first window holding noise."""
    name = f"k-align-{mode}"
    body = f"  audio_thread: {mode}\nports: {{inputs: 1}}\nbackend: {{name: heuristic}}\nemotion: {{smoothing_ms: 0}}\n"
    cfg = write_config(tmp_path / "k.yaml", jack_server, name, body)
    rng = np.random.default_rng(1)
    noise = rng.uniform(-0.6, 0.6, 48000).astype(np.float32)  # -9 dBFS RMS, ~0.5 crossings per sample
    kelly = Kelly(jack_server, cfg)
    player = Player(jack_server, noise, f"pl-align-{mode}")
    try:
        kelly.wait_ready()
        player.client.connect(player.port, f"{name}:in_1")
        recorder.client.connect(f"{name}:midi_out", recorder.port)
        time.sleep(1.0)  # silence: arousal and valence at -1 (CC 0)
        assert recorder.cc(21) and recorder.cc(21)[-1][1] == 0
        player.play()
        # both: the first window holding noise also holds silence, and may move arousal to 127 a hop
        # before valence (valence 67 seen last once in the PipeWire leg when only arousal was waited for)
        assert wait_until(lambda: recorder.cc(21)[-1][1] == 127 and recorder.cc(20)[-1][1] == 127, 5)
        rc, out, err = kelly.stop()
    finally:
        player.close()
    assert rc == 0, err
    first_move = next(t for t, v in recorder.cc(21) if t >= player.started_at and v > 0)
    # the first window holding noise ends 0..HOP-1 frames after the noise starts; its result is due L
    # after that (test_latency_jack places impulses on window ends and checks the frame exactly)
    delay = first_move - player.started_at - LATENCY
    # PipeWire reports no xruns: a cycle the recorder lost on this loaded VM (its data then a period or
    # two late) is silent there, so two periods more are allowed. On jackd, exact when kelly had no xrun;
    # a cycle JACK skipped for kelly (its clock then a period behind JACK's) delays its MIDI by a period
    # (56 xruns and 1407 frames late measured for the python mode under load here)
    xruns = summary_numbers(out)["xruns"]
    slack = (2 if ON_PIPEWIRE else xruns) * jack_server.period
    assert 0 <= delay < HOP + slack, f"noise from {player.started_at}, CC at {first_move}, {xruns} xruns"
    assert recorder.cc(20)[-1][1] == 127  # bright noise: valence +1
    assert summary_numbers(out)["late"] == 0


@pytest.mark.parametrize("mode", MODES)
def test_midi_in_sets_user_values_and_blend(jack_server, recorder, tmp_path, mode):
    name = f"k-midiin-{mode}"
    kelly = constant_kelly(jack_server, tmp_path, name, mode, recorder)
    player = Player(jack_server, np.zeros(48000, dtype=np.float32), f"plm-{mode}", midi=True)
    try:
        kelly.wait_ready()
        player.client.connect(player.port, f"{name}:in_1")
        player.client.connect(player.midi_port, f"{name}:midi_in")
        player.play()
        assert wait_until(lambda: recorder.cc(20) and recorder.cc(20)[-1][1] == 95, 10)
        sent = 0

        def send_until(messages: list[bytes], valence_cc: int) -> None:
            # a cycle of the player's lost to an xrun on this loaded VM loses its events: send again
            # (the values are absolute, so a repeat changes nothing); a kelly that ignores them never gets there
            nonlocal sent
            for _ in range(5):
                for m in messages:
                    player.send_midi(m)
                sent += len(messages)
                if wait_until(lambda: recorder.cc(20)[-1][1] == valence_cc, 2):
                    return
            pytest.fail(f"CC 20 never became {valence_cc}: {recorder.cc(20)[-5:]}")

        send_until([bytes([0xB0, 22, 127]), bytes([0xB0, 24, 0])], 127)  # user valence +1, blend: user only
        send_until([bytes([0xB0, 24, 127])], 95)  # blend: model only
        send_until([bytes([0xB0, 25, 0])], 127)  # ML off: the user's value, whatever the blend
        rc, out, err = kelly.stop()
    finally:
        player.close()
    assert rc == 0, err
    assert 4 <= summary_numbers(out)["midi_in"] <= sent


@pytest.mark.pipewire
def test_cc_seen_by_jack_midi_dump(jack_server, tmp_path):
    name = "k-dump"
    kelly = constant_kelly(jack_server, tmp_path, name)
    dump = subprocess.Popen(["jack_midi_dump", "dump"], env=jack_server.env, stdout=subprocess.PIPE, text=True)
    probe = jack_server.client("probe-dump")
    try:
        kelly.wait_ready()
        assert wait_until(lambda: probe.get_ports("^dump:input$"), 10)
        probe.connect(f"{name}:midi_out", "dump:input")
        time.sleep(1.5)
        rc, out, err = kelly.stop()
    finally:
        probe.close()
        dump.send_signal(signal.SIGTERM)
        dumped, _ = dump.communicate(timeout=10)
    assert rc == 0, err
    # jack_midi_dump prints the bytes in hex: CC 20 (0x14) = 95 (0x5f), CC 21 (0x15) = 48 (0x30)
    assert re.search(r"b0 14 5f", dumped), dumped
    assert re.search(r"b0 15 30", dumped), dumped


@pytest.mark.parametrize("mode", [pytest.param("native", marks=pytest.mark.pipewire), "python"])  # 30 s each
def test_slow_backend_results_are_late_and_nothing_blocks(jack_server, tmp_path, mode):
    """30 s at 48 kHz/128 with inference taking 5 hops: kelly keeps every period and counts results late."""
    name = f"k-slow-{mode}"
    hop_ms = 1000.0 * HOP / 48000
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        f"  audio_thread: {mode}\nports: {{inputs: 1}}\nbackend: {{name: slow, delay_ms: {5 * hop_ms:.3f}}}\n",
    )
    kelly = Kelly(jack_server, cfg, "--duration", "30")
    player = Player(jack_server, np.sin(np.arange(48000 * 40) * 0.03).astype(np.float32) * 0.5, f"pl-slow-{mode}")
    try:
        kelly.wait_ready()
        first = player.client.last_frame_time
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        rc, out, err = kelly.wait(timeout=90)
        last = player.client.last_frame_time
    finally:
        player.close()
    assert rc == 0, err
    f = summary_numbers(out)
    print(out)
    if ON_PIPEWIRE:
        # PipeWire's graph (not realtime here) skips cycles when its driver wakes late on this loaded VM,
        # unreported: 96% seen there under load
        assert f["periods"] >= 0.9 * 30 * 48000 / 128
    else:
        # the server's cycles while kelly ran: kelly took part in all but a few, and those JACK skipped
        # after xruns on this loaded VM. A callback that waited for the 107 ms inference would miss some
        # 40 cycles per xrun, and most cycles in all.
        server_periods = (last - first) / 128
        assert server_periods >= 0.5 * 30 * 48000 / 128
        assert f["periods"] >= 0.95 * server_periods - f["xruns"], (f["periods"], server_periods, f["xruns"])
    assert f["late"] >= 150  # one result every ~107 ms for ~30 s, each after its due frame
    # on time only if kelly's clock fell behind: its client frames stand still through cycles JACK skips
    # (PipeWire skips cycles without reporting an xrun)
    assert f["applied"] == 0 if f["xruns"] == 0 and not ON_PIPEWIRE else f["applied"] < f["late"], f
    assert f["skipped"] >= 3 * f["late"]


def pretty_name(server, port: jack.Port) -> bytes | None:
    """The port's JACK pretty name, as another client reads it."""
    if not ON_PIPEWIRE:
        found = jack.get_property(port.uuid, jack.METADATA_PRETTY_NAME)
        return found[0] if found else None
    # PipeWire's libjack keeps one metadata view per process, from the first server it met: this
    # process has met several, so ask a fresh one (jack_property), once the property has travelled
    cmd = ["jack_property", "--port", "-l", port.name, jack.METADATA_PRETTY_NAME]
    read = lambda: subprocess.run(cmd, env=server.env, capture_output=True, text=True).stdout.strip()  # noqa: E731
    wait_until(read, 2, 0.1)
    return read().encode() or None


@pytest.mark.pipewire
def test_auto_connect_patterns_and_pretty_names(jack_server, recorder, tmp_path):
    name = "k-patch"
    player = Player(jack_server, np.zeros(4800, dtype=np.float32), "pl-patch")
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 2}\nbackend: {name: constant}\nconnect:\n  in_1: ['^pl-patch:out$']\n"
        f"  in_2: ['^nobody:here$']\n  midi_out: ['^{recorder.client.name}:in$']\n",
    )
    kelly = Kelly(jack_server, cfg)
    probe = jack_server.client("probe-patch")
    try:
        kelly.wait_ready()
        in_1 = probe.get_port_by_name(f"{name}:in_1")
        connected = lambda port: [p.name for p in probe.get_all_connections(port)]  # noqa: E731
        # kelly connected before it said ready: jackd shows it at once, PipeWire a moment later
        assert wait_until(lambda: connected(in_1) == ["pl-patch:out"], 2), connected(in_1)
        assert wait_until(lambda: connected(f"{name}:midi_out") == [f"{recorder.client.name}:in"], 2)
        assert connected(f"{name}:in_2") == []
        assert pretty_name(jack_server, in_1) == b"Kelly in 1"
        rc, out, err = kelly.stop()
    finally:
        kelly.stop()  # a failed check must not leave it running
        probe.close()
        player.close()
    assert rc == 0
    assert "warning: connect.in_2: no port matches '^nobody:here$'" in err


@pytest.mark.parametrize("interval_ms", [pytest.param(10, marks=pytest.mark.pipewire), 100])
def test_cc_rate_limit(jack_server, recorder, tmp_path, interval_ms):
    """A model whose output changes every hop: one controller never sends twice within the interval."""
    name = f"k-rate-{interval_ms}"
    body = (
        "ports: {inputs: 1}\nbackend: {name: random, seed: 5, scale: 4.0}\nemotion: {smoothing_ms: 0}\n"
        f"midi: {{cc_min_interval_ms: {interval_ms}}}\nanalysis: {{window: 1024, hop: 256}}\n"
    )
    kelly = Kelly(jack_server, write_config(tmp_path / "k.yaml", jack_server, name, body))
    kelly.wait_ready()
    recorder.client.connect(f"{name}:midi_out", recorder.port)
    time.sleep(2.0)
    rc, out, err = kelly.stop()
    assert rc == 0, err
    frames = [t for t, _ in recorder.cc(20)]
    gaps = np.diff(frames)
    assert len(frames) > 10
    # frames at 48 kHz, by the recorder's clock: a Python callback run late reads JACK's frame time
    # a period ahead, so one gap may look a period (128 frames) shorter than kelly made it
    assert gaps.min() >= interval_ms * 48 - 128
    assert np.mean(gaps >= interval_ms * 48) > 0.9
    # the random model moves every 256 frames: the limit, not the model, sets the pace
    assert np.median(gaps) < interval_ms * 48 * 2


@pytest.mark.pipewire
def test_outputs_can_be_turned_off(jack_server, tmp_path):
    name = "k-noout"
    kelly = Kelly(jack_server, write_config(tmp_path / "k.yaml", jack_server, name, "ports: {outputs: false}\n"))
    probe = jack_server.client("probe-noout")
    try:
        kelly.wait_ready()
        names = sorted(p.shortname for p in probe.get_ports(f"^{name}:"))
        assert names == ["in_1", "in_2", "midi_in", "midi_out"]
        rc, out, err = kelly.stop()
    finally:
        probe.close()
    assert rc == 0, err
