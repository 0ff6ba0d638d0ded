"""OSC and the monitor against a real kelly on a real jackd, over real UDP sockets on loopback.

kelly runs the constant backend (valence 0.5, arousal -0.25: CCs 95 and 48) with
its control port on any free loopback port (``osc.port: 0``; it prints which)
and sends its status stream to a socket of the test's own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from kelly_jack.rt.emotion import cc_value

from support.cfunc_clients import MidiRecorder, Player
from support.jackd import ROOT, JackServer, Kelly, wait_until, write_config

pytestmark = pytest.mark.jack


class Target:
    """A UDP socket on loopback that collects kelly's status bundles as {address: params} dicts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.bundles: list[tuple[float, dict]] = []

    def collect(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.bundles.append(
                (time.monotonic(), {t.message.address: t.message.params for t in OscPacket(data).messages})
            )

    def until(self, predicate, timeout: float = 10.0) -> dict | None:
        """The first bundle from now on for which ``predicate(bundle)`` holds, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            n = len(self.bundles)
            self.collect(0.1)
            for _, b in self.bundles[n:]:
                if predicate(b):
                    return b
        return None

    def close(self) -> None:
        self.sock.close()


def start_kelly(jack_server, tmp_path, name: str, target: Target, backend: str, *args: str, rate: float = 20):
    """kelly with OSC on; returns (Kelly, control port, its config path)."""
    body = (
        f"ports: {{inputs: 1}}\nbackend: {backend}\nemotion: {{smoothing_ms: 0}}\n"
        f"osc:\n  enabled: true\n  port: 0\n  targets: ['127.0.0.1:{target.port}']\n  rate_hz: {rate}\n"
    )
    cfg = write_config(tmp_path / "k.yaml", jack_server, name, body)
    kelly = Kelly(jack_server, cfg, *args)
    kelly.wait_ready()
    line = kelly.proc.stdout.readline()
    m = re.match(r"kelly-jack: OSC control on 127\.0\.0\.1:(\d+); status at [\d.]+ Hz to 127\.0\.0\.1:(\d+)", line)
    assert m, line
    assert int(m.group(2)) == target.port
    return kelly, int(m.group(1)), cfg


CONSTANT = "{name: constant, valence: 0.5, arousal: -0.25}"


def bound_udp_ports() -> dict[int, str]:
    """Local UDP port -> local address (hex, as /proc/net/udp writes it) of every IPv4 UDP socket."""
    out = {}
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        local = line.split()[1]
        address, port = local.split(":")
        out[int(port, 16)] = address
    return out


def test_status_arrives_at_the_configured_rate_and_the_monitor_shows_it(jack_server, tmp_path):
    target = Target()
    name = f"kosc{os.getpid()}"
    kelly, port, _ = start_kelly(jack_server, tmp_path, name, target, CONSTANT, rate=20)
    player = Player(jack_server, np.zeros(48000 * 20, dtype=np.float32), f"posc{os.getpid()}")
    try:
        assert bound_udp_ports()[port] == "0100007F"  # 127.0.0.1: the control port is bound to loopback only
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        first = target.until(lambda b: b["/kelly/status/results"][0] > 0)
        assert first is not None, "no status with a result within 10 s"
        n0 = len(target.bundles)
        target.collect(2.0)
        stamps = [t for t, _ in target.bundles[n0:]]
        # 20 Hz for 2 s: about 40 bundles; never more than the rate allows (the sender skips, never bursts)
        gaps = np.diff(stamps)
        print(
            f"{len(stamps)} bundles in 2 s at 20 Hz; gaps median {1000 * np.median(gaps):.1f} ms, "
            f"max {1000 * gaps.max():.1f} ms"
        )
        assert 15 <= len(stamps) <= 42, len(stamps)
        last = target.bundles[-1][1]
        assert last["/kelly/valence"][0] == pytest.approx(0.5, abs=1e-6)
        assert last["/kelly/arousal"][0] == pytest.approx(-0.25, abs=1e-6)
        assert last["/kelly/dominance"] == [0.0]  # the constant backend ships no learned mapping
        assert last["/kelly/latency"] == [1984, pytest.approx(41.333, abs=1e-3)]
        assert last["/kelly/server"] == [48000, 128, 1024]
        assert last["/kelly/user"] == [0.0, 0.0, 1.0, 1]
        assert last["/kelly/status/periods"][0] > first["/kelly/status/periods"][0]
        assert last["/kelly/status/time_max_us"][0] > 0 and last["/kelly/status/infer_mean_us"][0] > 0
        emotion = last["/kelly/emotion"]
        assert len(emotion) == 64 and sum(emotion) == pytest.approx(1.0, abs=1e-5)
        # bilinear weights of (0.5, -0.25) on the grid: 46.9% in row 3 (arousal -0.14), column 5 (valence +0.43)
        assert int(np.argmax(emotion)) == 3 * 8 + 5 and emotion[29] == pytest.approx(0.46875, abs=1e-3)

        r = subprocess.run(
            [sys.executable, "-m", "kelly_jack", "monitor", "--port", str(port), "--once", "--seconds", "2"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        rc, out, err = kelly.stop()
    finally:
        player.close()
        target.close()
    assert r.returncode == 0, r.stderr
    screen = r.stdout
    print(screen)
    assert f"kelly-jack monitor: kelly at 127.0.0.1:{port}, 48000 Hz, 128 frames/period" in screen
    assert "valence +0.50  arousal -0.25  dominance +0.00" in screen
    assert re.search(r"valence  \+0\.50 \|\s*▆+\| min \+0\.50 max \+0\.50", screen), screen
    assert re.search(r"arousal  -0\.25 \|\s*▄+\| min -0\.25 max -0\.25", screen), screen
    grid = {
        line.split()[0]: line.split()[1:] for line in screen.splitlines() if re.match(r"^[+-]\d\.\d\d( +\d+){8}$", line)
    }
    assert len(grid) == 8
    assert grid["-0.14"] == ["0", "0", "0", "0", "0", "47", "16", "0"]
    assert grid["-0.43"] == ["0", "0", "0", "0", "0", "28", "9", "0"]
    assert "latency        1984 frames (41.3 ms)" in screen
    assert re.search(r"audio thread   max \d+ us, p50 \d+ us, p99\.9 \d+ us \(period 2667 us\)", screen)
    assert re.search(
        r"inference      last \d+\.\d{3} ms, mean \d+\.\d{3} ms, max \d+\.\d{3} ms \(hop 21\.3 ms\)", screen
    )
    assert re.search(r"xruns \d+   late results 0   applied [1-9]\d*", screen)
    assert rc == 0, err


def test_user_valence_blend_and_ml_over_osc_change_the_cc_output(jack_server, tmp_path):
    target = Target()
    name = f"koscu{os.getpid()}"
    recorder = MidiRecorder(jack_server, f"recu{os.getpid()}")
    kelly, port, _ = start_kelly(jack_server, tmp_path, name, target, CONSTANT)
    player = Player(jack_server, np.zeros(48000 * 30, dtype=np.float32), f"poscu{os.getpid()}")
    try:
        player.client.connect(player.port, f"{name}:in_1")
        recorder.client.connect(f"{name}:midi_out", recorder.port)
        player.play()
        assert wait_until(lambda: recorder.cc(20) and recorder.cc(20)[-1][1] == 95, 10)
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/kelly/user/valence", -0.5)
        time.sleep(0.3)
        assert recorder.cc(20)[-1][1] == 95  # blend 1: the model's value alone
        osc.send_message("/kelly/blend", 0.0)  # the user's value alone
        assert wait_until(lambda: recorder.cc(20)[-1][1] == cc_value(-0.5) == 32, 5)
        osc.send_message("/kelly/blend", 0.5)  # halfway: 0.5 * 0.5 + 0.5 * -0.5 = 0
        assert wait_until(lambda: recorder.cc(20)[-1][1] == 64, 5)
        osc.send_message("/kelly/blend", 1.0)
        osc.send_message("/kelly/user/arousal", 1)  # an int is a number too
        assert wait_until(lambda: recorder.cc(20)[-1][1] == 95, 5)
        osc.send_message("/kelly/ml", False)  # ML off: the user's values, whatever the blend
        assert wait_until(lambda: recorder.cc(20)[-1][1] == 32 and recorder.cc(21)[-1][1] == 127, 5)
        # bundles already in the socket were composed before the audio thread applied ML off: skip them
        target.collect(0.2)
        status = target.until(lambda b: b["/kelly/user"][3] == 0)
        assert status is not None and status["/kelly/user"] == [-0.5, 1.0, 1.0, 0]
        assert status["/kelly/valence"][0] == pytest.approx(-0.5)
        rc, out, err = kelly.stop()
    finally:
        player.close()
        recorder.close()
        target.close()
    assert rc == 0, err
    assert "OSC message" not in err  # every message above was good


def test_reload_over_osc_swaps_the_model_or_refuses_a_bad_one(jack_server, tmp_path):
    target = Target()
    name = f"koscr{os.getpid()}"
    kelly, port, cfg = start_kelly(jack_server, tmp_path, name, target, CONSTANT)
    player = Player(jack_server, np.zeros(48000 * 30, dtype=np.float32), f"poscr{os.getpid()}")
    try:
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        assert target.until(lambda b: b["/kelly/valence"][0] == pytest.approx(0.5))
        osc = SimpleUDPClient("127.0.0.1", port)
        cfg.write_text(cfg.read_text().replace("valence: 0.5", "valence: -0.75"))
        osc.send_message("/kelly/reload", [])
        swapped = target.until(lambda b: b["/kelly/valence"][0] == pytest.approx(-0.75))
        assert swapped is not None and swapped["/kelly/status/reloads"] == [1]
        cfg.write_text(cfg.read_text().replace("valence: -0.75", "valence: 5"))  # out of range: refused
        osc.send_message("/kelly/reload", [])
        refused = target.until(lambda b: b["/kelly/status/reload_refused"] == [1])
        assert refused is not None and refused["/kelly/valence"][0] == pytest.approx(-0.75)  # the old model runs
        rc, out, err = kelly.stop()
    finally:
        player.close()
        target.close()
    assert rc == 0, err
    assert "kelly-jack: reloaded backend constant" in err
    assert "kelly-jack: reload refused:" in err and "the running model stays" in err


def test_bad_messages_are_reported_at_a_bounded_rate_and_ignored(jack_server, tmp_path):
    target = Target()
    name = f"koscb{os.getpid()}"
    kelly, port, _ = start_kelly(jack_server, tmp_path, name, target, CONSTANT)
    try:
        osc = SimpleUDPClient("127.0.0.1", port)
        bad = [
            ("/kelly/blend", 1.5),  # out of range
            ("/kelly/blend", "half"),  # wrong type
            ("/kelly/user/valence", float("nan")),
            ("/kelly/user/arousal", [0.1, 0.2]),  # too many arguments
            ("/kelly/ml", 7),
            ("/kelly/nope", 1),  # unknown address
            ("/kelly/reload", 1),
        ]
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(10):
            for address, value in bad:
                osc.send_message(address, value)
            raw.sendto(b"\x00garbage", ("127.0.0.1", port))
            raw.sendto(b"/kelly/blend\x00\x00\x00\x00,f\x00\x00", ("127.0.0.1", port))  # the float is missing
        raw.close()
        sent = 10 * (len(bad) + 2)
        status = target.until(lambda b: b["/kelly/status/osc_bad"][0] >= sent)
        assert status is not None and status["/kelly/status/osc_bad"] == [sent]
        assert status["/kelly/user"] == [0.0, 0.0, 1.0, 1]  # nothing was applied
        assert status["/kelly/status/reloads"] == [0] and status["/kelly/status/reload_refused"] == [0]
        osc.send_message("/kelly/user/valence", 0.25)  # and good messages still work
        assert target.until(lambda b: b["/kelly/user"][0] == 0.25) is not None
        assert kelly.proc.poll() is None
        rc, out, err = kelly.stop()
    finally:
        target.close()
    assert rc == 0, err
    reports = [line for line in err.splitlines() if "OSC message from 127.0.0.1:" in line]
    assert 1 <= len(reports) <= 2, err  # at most one report per 5 s (the run is shorter than 10 s)
    assert "Traceback" not in err


def test_monitor_in_the_client_terminal(jack_server, tmp_path):
    """``kelly-jack --monitor`` into a pipe (not a terminal) prints a plain frame every 2 s."""
    target = Target()
    name = f"koscm{os.getpid()}"
    kelly, _, _ = start_kelly(jack_server, tmp_path, name, target, CONSTANT, "--monitor", "--duration", "5")
    player = Player(jack_server, np.zeros(48000 * 10, dtype=np.float32), f"poscm{os.getpid()}")
    try:
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        rc, out, err = kelly.wait(60)
    finally:
        player.close()
        target.close()
    assert rc == 0, err
    frames = out.split(f"kelly-jack monitor: client '{name}' (this process), 48000 Hz, 128 frames/period")
    assert len(frames) >= 3, out  # two frames or more in 5 s
    last = frames[-1]
    assert "valence +0.50  arousal -0.25" in last
    assert re.search(r"^-0\.14 +0 +0 +0 +0 +0 +47 +16 +0$", last, re.M), last
    assert "kelly-jack summary:" in out


def test_osc_follows_kelly_across_a_server_restart(tmp_path):
    """The control port and the status stream stay up while the server is away; after kelly comes back
    they read and steer the new session (its counters start again from 0)."""
    server = JackServer().start()
    target = Target()
    kelly = None
    try:
        kelly, port, _ = start_kelly(server, tmp_path, f"koscx{os.getpid()}", target, CONSTANT)
        before = target.until(lambda b: b["/kelly/status/periods"][0] > 1000)
        assert before is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(5)
        time.sleep(0.5)
        server.start()
        # a bundle from the new session: fewer periods than the old one had counted
        after = target.until(lambda b: 0 < b["/kelly/status/periods"][0] < before["/kelly/status/periods"][0], 15)
        assert after is not None, kelly.stop()
        SimpleUDPClient("127.0.0.1", port).send_message("/kelly/user/valence", -0.5)
        assert target.until(lambda b: b["/kelly/user"][0] == -0.5) is not None
        code, out, err = kelly.stop()
    finally:
        if kelly is not None:
            kelly.stop()
        target.close()
        server.stop()
    assert code == 0, err
    assert "the server is back" in err
