"""Latency that is true, measured on real jackd servers at several rates and buffer sizes.

For each (rate, period): an impulse into in_1 comes out of out_1 exactly L
frames later; the MIDI event for the window ending on the impulse lands on the
same frame; another client reads the port latency ranges as upstream + L (and
so does ``jack_lsp -l``); ``jack_iodelay`` looped through in_1 -> out_1
measures L plus one period.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import jack
import pytest

from kelly_jack.engine.latency import LatencyManager
from kelly_jack.jack import latency_api

from support.jackd import ON_PIPEWIRE, JackServer, Kelly, dies_with_us, new_server, wait_until, write_config
from support.probe import Probe

pytestmark = pytest.mark.jack

HOP = 1024
RATES = [44100, 48000, 96000]
PERIODS = [32, 64, 128, 1024]
PIPEWIRE_LEG = {(44100, 128), (48000, 128), (96000, 1024)}  # the PipeWire leg measures these (time budget)


def expected_latency(rate: int) -> int:
    return LatencyManager().frames(rate)  # 20 ms + 1024 samples, the defaults


def iodelay(server: JackServer, probe: Probe, kelly_name: str, seconds: float = 2.0) -> float:
    """jack_iodelay's most frequent round-trip reading (frames) through kelly's in_1 -> out_1."""
    proc = subprocess.Popen(
        ["stdbuf", "-o0", "jack_iodelay"], env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_until(lambda: probe.client.get_ports("^jack_delay:in$"), 10)
        # jack_delay registers its ports one by one; under load a connect may come before the second
        assert wait_until(lambda: _connect(probe.client, "jack_delay:out", f"{kelly_name}:in_1"), 10)
        assert wait_until(lambda: _connect(probe.client, f"{kelly_name}:out_1", "jack_delay:in"), 10)
        time.sleep(seconds)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    readings = re.findall(r"([\d.]+) frames\s+[\d.]+ ms total roundtrip latency", out.decode(errors="replace"))
    assert readings, out[-500:]
    return float(Counter(readings).most_common(1)[0][0])


def _connect(client: jack.Client, source: str, destination: str) -> bool:
    """Connect; False (to try again) if JACK refused, True if connected now or already."""
    try:
        client.connect(source, destination)
    except jack.JackErrorCode:
        try:
            return destination in [p.name for p in client.get_all_connections(source)]
        except jack.JackError:  # the source port is not there yet (seen under load: jack_delay:out)
            return False
    return True


def jack_lsp_ranges(server: JackServer, port: str) -> dict[str, tuple[int, int]]:
    out = subprocess.run(["jack_lsp", "-l", port], env=server.env, capture_output=True, text=True).stdout
    return {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"port (\w+) latency = \[ (\d+) (\d+) \]", out)}


class Attempt:
    """One impulse from ``player``, as ``rec`` saw it: directly, through kelly, and as kelly's CC."""

    def __init__(self, player: Probe, rec: Probe, at: int, timeout: float = 10.0):
        self.target = at
        xruns = rec.xruns
        n_direct, n_in, n_cc = len(rec.direct_hits), len(rec.hits), len(rec.cc(21))
        player.impulse_at(at)
        ok = wait_until(
            lambda: (
                len(rec.direct_hits) > n_direct
                and len(rec.hits) > n_in
                and any(v > 0 for _, v in rec.cc(21)[n_cc:])
                and rec.cc(21)[-1][1] == 0
            ),  # and back to silence: ready for the next impulse
            timeout,
        )
        self.complete = ok
        self.xruns = rec.xruns - xruns
        self.direct = rec.direct_hits[n_direct] if len(rec.direct_hits) > n_direct else None
        self.through = rec.hits[n_in] if len(rec.hits) > n_in else None
        self.midi = next((f for f, v in rec.cc(21)[n_cc:] if v > 0), None)


def impulse_pair(player: Probe, rec: Probe, rate: int) -> tuple[Attempt, Attempt]:
    """An impulse anywhere, then one on the last frame of an analysis window.

    The first tells where kelly's windows end (its CC comes where the first
    window holding it ends, plus L); the second is placed on such an end.
    """
    first = Attempt(player, rec, player.count + rate // 4)
    if first.midi is None or first.through is None:
        return first, first
    phase = first.midi - first.through
    ahead = player.count + rate // 4 - first.target
    return first, Attempt(player, rec, first.target + phase % HOP + HOP * (ahead // HOP + 1))


def midi_lands(midi: int, through: int, period: int) -> bool:
    """The CC for the window ending on the impulse is on the delayed impulse's frame. PipeWire 0.3.65
    (measured here, in runs without a lost cycle or a late result) hands the MIDI to the next client 0, 1
    or 2 periods after the audio written in the same cycle, at the same offset: whole periods late pass."""
    if ON_PIPEWIRE:
        return midi - through in (0, period, 2 * period)
    return midi == through


def exact(first: Attempt, second: Attempt, total: int, period: int) -> bool:
    """Both impulses out of out_1 exactly L later, the second's CC on its frame, no cycle lost."""
    return (
        first.complete
        and second.complete
        and first.through - first.direct == total
        and 0 <= first.midi - first.through < HOP + (2 * period if ON_PIPEWIRE else 0)
        and second.direct - first.direct == second.target - first.target  # neither probe lost a cycle
        and second.through - second.direct == total
        and midi_lands(second.midi, second.through, period)  # MIDI for the window ending on the impulse
    )


@pytest.mark.parametrize(
    ("rate", "period"),
    [pytest.param(r, p, marks=[pytest.mark.pipewire] * ((r, p) in PIPEWIRE_LEG)) for r in RATES for p in PERIODS],
)
def test_delay_midi_ranges_and_iodelay(tmp_path, rate, period):
    server = new_server(rate=rate, period=period).start()
    name = "kl"
    total = expected_latency(rate)
    cfg = write_config(
        tmp_path / "k.yaml",
        server,
        name,
        "ports: {inputs: 2}\nbackend: {name: heuristic}\nemotion: {smoothing_ms: 0}\n"
        f"analysis: {{window: 2048, hop: {HOP}}}\n",
    )
    kelly = Kelly(server, cfg)
    player = rec = None
    try:
        assert f"latency {total} frames" in kelly.wait_ready()
        # player -> kelly -> rec, and player -> rec directly: no loop in the graph (a loop would
        # cost a period), and rec sees the impulse both ways on its own frame count
        player, rec = Probe(server, "player"), Probe(server, "rec")
        c = rec.client
        c.connect(player.out, f"{name}:in_1")
        c.connect(player.out, rec.direct)
        c.connect("system:capture_1", f"{name}:in_2")
        c.connect(f"{name}:out_1", rec.inp)
        # playback_2: under PipeWire, system:capture_N is the monitor of system:playback_N (the null sink
        # standing for the card), so out_1 into playback_1 would loop back into in_2; on jackd alike
        c.connect(f"{name}:out_1", "system:playback_2")
        c.connect(f"{name}:midi_out", rec.midi)
        time.sleep(0.3)  # silence so far: kelly's arousal CC is at 0 (sent before rec was patched)

        # 1. an impulse anywhere: out_1 carries it exactly L later; the CC for the first window
        #    holding it comes where that window ends, 0..HOP-1 frames later, plus L
        # 2. an impulse on the last frame of a window: its CC lands on the delayed impulse's frame
        start = time.monotonic()
        pair = None
        for _ in range(6):
            first, second = impulse_pair(player, rec, rate)
            if exact(first, second, total, period):
                pair = (first, second)
                break
            # inexact: only acceptable when xruns disturbed the measurement (JACK then skips or
            # delays cycles of some client); without an xrun, it is a bug. PipeWire's libjack reports
            # no xruns: a client's cycle lost on this loaded VM (its data then a period or more late) is
            # silent, so there an inexact pair is only retried
            assert first.xruns + second.xruns > 0 or ON_PIPEWIRE, (vars(first), vars(second))
        if pair is None:
            seconds = time.monotonic() - start
            pytest.skip(
                f"{rec.xruns} xruns reported in {seconds:.0f} s at {period} frames: no undisturbed measurement"
                + (" (PipeWire reports none: 6 disturbed pairs)" if ON_PIPEWIRE else "")
            )
        first, aligned = pair

        # ranges, read by another client: upstream (or downstream) + L over connected ports
        sys_capture = latency_api.get_range(c.get_port_by_name("system:capture_1"), latency_api.CAPTURE)
        sys_playback = latency_api.get_range(c.get_port_by_name("system:playback_2"), latency_api.PLAYBACK)
        capture_in = [latency_api.get_range(c.get_port_by_name(f"{name}:in_{i}"), latency_api.CAPTURE) for i in (1, 2)]
        assert capture_in == [(0, 0), sys_capture]  # in_1 from the player (0), in_2 from system:capture_1
        for port in ("out_1", "out_2", "midi_out"):
            got = latency_api.get_range(c.get_port_by_name(f"{name}:{port}"), latency_api.CAPTURE)
            assert got == (total, sys_capture[1] + total), port
        for port in ("in_1", "in_2", "midi_in"):
            got = latency_api.get_range(c.get_port_by_name(f"{name}:{port}"), latency_api.PLAYBACK)
            assert got == (total, sys_playback[1] + total), port  # out_1 -> rec (0) and system:playback_1
        assert jack_lsp_ranges(server, f"{name}:out_1")["capture"] == (total, sys_capture[1] + total)

        measured = iodelay(server, rec, name)
        assert abs(measured - (total + period)) < 0.5, f"jack_iodelay {measured}, expected L + period"
        print(
            f"{rate} Hz, {period:>4} frames: L = {total}, impulse {aligned.through - aligned.direct}, "
            f"jack_iodelay {measured:.3f} (L + period = {total + period}), "
            f"MIDI error {aligned.midi - aligned.through}; xruns during the two impulses: "
            f"{first.xruns + second.xruns}"
        )
        rc, out, err = kelly.stop()
        assert rc == 0, err
    finally:
        for client in (player, rec):
            if client is not None:
                client.close()
        kelly.stop()
        server.stop()


@pytest.mark.pipewire
def test_buffer_size_change_updates_the_ranges(tmp_path):
    server = new_server(rate=48000, period=128).start()
    name = "kb"
    total = expected_latency(48000)
    kelly = Kelly(server, write_config(tmp_path / "k.yaml", server, name, "ports: {inputs: 1}\n"))
    probe = None
    # the capture latency of system:capture_1: one period on jackd's dummy driver, none on PipeWire's null sink
    capture = (lambda period: 0) if ON_PIPEWIRE else (lambda period: period)
    try:
        kelly.wait_ready()
        probe = Probe(server, "probe")
        c = probe.client
        c.connect("system:capture_1", f"{name}:in_1")
        out_1 = c.get_port_by_name(f"{name}:out_1")
        expected = capture(128) + total
        # JACK recomputes after the connection
        assert wait_until(lambda: latency_api.get_range(out_1, latency_api.CAPTURE) == (expected, expected), 5)
        xruns = probe.xruns
        subprocess.run(["jack_bufsize", "256"], env=server.env, check=True, capture_output=True)
        if ON_PIPEWIRE:
            # PipeWire 0.3.65's jack_bufsize exits 0 and changes nothing; its graph's quantum is a setting
            assert not wait_until(lambda: c.blocksize != 128, 1.0)
            subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum", "256"], env=server.env,
                           check=True, capture_output=True)  # fmt: skip
        assert wait_until(lambda: c.blocksize == 256, 5)
        expected = capture(256) + total
        assert wait_until(lambda: latency_api.get_range(out_1, latency_api.CAPTURE) == (expected, expected), 5)
        time.sleep(0.5)
        print(f"128 -> 256 frames: ranges now {expected}; xruns seen meanwhile: {probe.xruns - xruns}")
        rc, out, err = kelly.stop()
        assert rc == 0, err
        assert "periods of 128 frames" in out  # the summary names the size kelly started with
        assert re.search(r"results [1-9]\d* applied", out)  # and it kept running at 256
    finally:
        if probe is not None:
            probe.close()
        kelly.stop()
        server.stop()


@pytest.mark.pipewire
def test_latency_ranges_set_while_the_main_thread_patches_never_break_the_client():
    """kelly's client survives 3 s of its main thread patching (connects, pretty names) while every
    connection change makes it set ranges, and the ranges are right after. Through PipeWire 0.3.65's
    libjack the ranges set inside the callback died within 2 s in 8 of 8 runs (abort or SIGSEGV)."""
    server = new_server().start()
    child = Path(__file__).parent / "support" / "busy_patching_client.py"
    try:
        done = subprocess.run(
            dies_with_us([sys.executable, str(child), server.name, "3", "960"]),
            env=server.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout}{done.stderr[-2000:]}"
    print(done.stdout.strip())
    assert int(done.stdout.split()[-1]) > 10, done.stdout  # rounds: it did patch meanwhile
