"""kelly unchanged as a client of a netjack2 slave: audio from the master machine reaches it, its MIDI goes back.

Two private servers on this machine stand for two machines: a master ``jackd``
(dummy driver) running jackd2's ``netmanager`` internal client, and a slave
``jackd -d net`` that finds the master by unicast on loopback (``-a 127.0.0.1``)
and a UDP port of the test's own (``-p``). kelly runs on the slave with the
heuristic backend; the measuring client (tests/support/probe.py) runs on the master:

    probe:out -> <net>:to_slave_1 ~~> system:capture_1 -> kelly:in_1
    kelly:out_1 -> system:playback_1 ~~> <net>:from_slave_1 -> probe:in
    kelly:midi_out -> system:midi_playback_1 ~~> <net>:midi_from_slave_1 -> probe:midi

Why unicast: netjack2's slave looks for a master by multicast, and on the
loopback interface its own SLAVE_AVAILABLE packet comes back to it; the
slave's receive loop takes any session packet, so it took itself for the
master (no master name, 0 Hz) and restarted every second. With ``-a`` naming
the master's address it sends to the netmanager's port directly and never
hears itself: no multicast, no network namespace, no root.

libjack (jackd2's) talks to one server per process, so what the test reads
on the slave it reads with ``jack_lsp -l``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time

import pytest
from test_latency_jack import HOP, Attempt, expected_latency, jack_lsp_ranges

from support.jackd import ON_PIPEWIRE, JackServer, Kelly, dies_with_us, wait_until, write_config
from support.probe import Probe

pytestmark = [
    pytest.mark.jack,
    pytest.mark.skipif(ON_PIPEWIRE, reason="netjack2 is jackd2's; PipeWire has no net driver for JACK clients"),
]

NET_LATENCY = 2  # jackd -d net -l: network latency in cycles (jackd2's default is 5)
NET = "kn"  # the slave's client name on the master


def free_udp_port() -> int:
    """A UDP port nothing on this machine uses now (the netmanager binds it on every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NetSlave(JackServer):
    """``jackd -d net`` under a unique name, slave of the netmanager listening on 127.0.0.1:``port``.

    One audio port each way and one MIDI port back to the master; ``NET_LATENCY`` cycles of
    network latency. Up when its server answers and the master shows ``NET``'s ports.
    """

    def __init__(self, master: JackServer, port: int):
        super().__init__(rate=master.rate, period=master.period)
        self.name = f"{master.name}-slave"
        self.master = master
        self.port = port

    def start(self, timeout: float = 15.0) -> NetSlave:
        cmd = ["jackd", "-n", self.name, "--no-realtime", "-d", "net", "-a", "127.0.0.1", "-p", str(self.port)]
        cmd += ["-C", "1", "-P", "1", "-i", "0", "-o", "1", "-l", str(NET_LATENCY), "-n", NET]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.proc = subprocess.Popen(dies_with_us(cmd), env=self.env, start_new_session=True, **quiet)
        master_ports = ["jack_lsp", f"{NET}:"]
        up = wait_until(
            lambda: (
                self.proc.poll() is None
                and f"{NET}:midi_from_slave_1"
                in subprocess.run(master_ports, env=self.master.env, capture_output=True, text=True).stdout
            ),
            timeout,
            poll=0.2,
        )
        if not up:
            self.stop()
            raise RuntimeError(f"netjack2 slave {self.name} did not join the master in {timeout} s")
        return self


@pytest.fixture
def net_pair():
    """(master, slave): a master jackd with the netmanager and a netjack2 slave of it; both stopped by PID."""
    if shutil.which("jack_load") is None:
        pytest.skip("jack_load is missing (jackd2's tools: scripts/setup installs jackd2)")
    master = JackServer().start()
    slave = None
    try:
        port = free_udp_port()
        load = subprocess.run(
            ["jack_load", "netmanager", "-i", f"-p {port}"], env=master.env, capture_output=True, text=True, timeout=10
        )
        if load.returncode != 0:
            pytest.skip(f"jackd2's netmanager did not load: {load.stdout}{load.stderr}")
        slave = NetSlave(master, port).start()
        yield master, slave
    finally:
        if slave is not None:
            slave.stop()
        # the netmanager's own client does not answer the server's deactivate at SIGTERM (jackd then waits
        # 12 s for it): unloading it first takes under a second
        subprocess.run(["jack_unload", "netmanager"], env=master.env, capture_output=True, timeout=15)
        master.stop()


def test_kelly_on_a_netjack2_slave_hears_the_master_and_its_midi_returns(tmp_path, net_pair):
    master, slave = net_pair
    total = expected_latency(48000)
    connect = "connect: {in_1: [system:capture_1], out_1: [system:playback_1], midi_out: [system:midi_playback_1]}\n"
    body = "ports: {inputs: 1}\nbackend: {name: heuristic}\nemotion: {smoothing_ms: 0}\n" + connect
    kelly = Kelly(slave, write_config(tmp_path / "k.yaml", slave, "kelly", body))
    probe = None
    try:
        assert f"latency {total} frames" in kelly.wait_ready()  # kelly needs nothing netjack-specific
        probe = Probe(master, "probe")
        c = probe.client
        c.connect(probe.out, f"{NET}:to_slave_1")
        c.connect(probe.out, probe.direct)
        c.connect(f"{NET}:from_slave_1", probe.inp)
        c.connect(f"{NET}:midi_from_slave_1", probe.midi)
        time.sleep(0.5)

        # three impulses from the master: each comes back through kelly's out_1 and kelly's arousal CC for
        # it comes back over the net MIDI port, on the master
        trips, midi = [], []
        for _ in range(3):
            a = Attempt(probe, probe, probe.count + 12000)
            assert a.complete, vars(a)
            trips.append(a.through - a.direct)
            midi.append(a.midi - a.through)
        # kelly's L plus whole periods of the net link each way (a trip one period longer when an xrun of the
        # async link fell in it)
        for trip in trips:
            assert (trip - total) % master.period == 0 and 2 <= (trip - total) // master.period <= 8, trips
        assert all(0 <= m < HOP + 2 * master.period for m in midi), midi  # where kelly's window ends, as locally

        # the latency kelly reports on the slave includes the net driver's: its outputs' capture range is the
        # capture latency of the slave's system:capture_1 (the network latency, NET_LATENCY/2 periods) plus L
        net_capture = jack_lsp_ranges(slave, "system:capture_1")["capture"]
        assert net_capture == (NET_LATENCY * slave.period // 2,) * 2
        for port in ("out_1", "midi_out"):
            assert jack_lsp_ranges(slave, f"kelly:{port}")["capture"] == (net_capture[0] + total,) * 2, port
        back = jack_lsp_ranges(master, f"{NET}:from_slave_1")["capture"]
        print(
            f"netjack2 (-l {NET_LATENCY}, 128 frames, 48 kHz): round trip master -> kelly -> master {trips} frames "
            f"= L {total} + {[(t - total) // master.period for t in trips]} periods; kelly's out_1/midi_out capture "
            f"latency on the slave {net_capture[0] + total} = net {net_capture[0]} + L; master's "
            f"{NET}:from_slave_1 capture latency {back[0]}; MIDI {midi} frames after the audio (window ends); "
            f"{probe.xruns} xruns on the master"
        )
        rc, out, err = kelly.stop(signal.SIGINT)
        assert rc == 0, err
        assert "results 0 applied" not in out
    finally:
        if probe is not None:
            probe.close()
        kelly.stop()
