"""Real JACK servers and the kelly-jack process for the integration tests.

``JackServer`` starts ``jackd`` with the dummy driver under a unique server
name and stops it by its PID: the tests never touch a server they did not
start, and none outlives the test process (``dies_with_us``).
``PipeWireServer`` does the same with a private ``pipewire`` daemon
(PipeWire's JACK, see below); ``new_server`` gives the one this pytest run
tests (``KELLY_TEST_SERVER``). ``Kelly`` starts the real ``kelly-jack``
command against either. The tests' own JACK clients (players, recorders)
are in ``cfunc_clients.py``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jack
import pytest

_counter = itertools.count()
ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout: float, poll: float = 0.02) -> bool:
    """True as soon as ``predicate()`` is, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def dies_with_us(cmd: list[str]) -> list[str]:
    """``cmd`` run through ``setpriv --pdeathsig TERM`` (util-linux): the kernel sends the process SIGTERM
    when this test process dies, however it dies (a hung leg killed by scripts/test's timeout, SIGKILL, a
    crash), so no server or kelly a test started outlives the run. The signal goes to that one process;
    it is tied to the thread that starts it, so start these from the main thread (fixtures and tests do).
    """
    return ["setpriv", "--pdeathsig", "TERM", "--", *cmd]


def have_jackd() -> bool:
    return shutil.which("jackd") is not None


class JackServer:
    """A private jackd (dummy driver, no realtime) for one test module."""

    def __init__(self, rate: int = 48000, period: int = 128, sync: bool = False):
        self.name = f"kelly-test-{os.getpid()}-{next(_counter)}"
        self.rate = rate
        self.period = period
        self.sync = sync  # jackd -S: each cycle waits for every client (no client's output is read late)
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes that should use this server."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_AUDIO_RESERVATION": "1"}

    def start(self, timeout: float = 10.0) -> JackServer:
        cmd = ["jackd", "-n", self.name, "--no-realtime", *(["-S"] if self.sync else []), "-d", "dummy"]
        cmd += ["-r", str(self.rate), "-p", str(self.period)]
        self.proc = subprocess.Popen(
            dies_with_us(cmd),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jackd exited with {self.proc.returncode}")
            try:
                probe = jack.Client("probe", no_start_server=True, servername=self.name)
                probe.close()
                return self
            except jack.JackOpenError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jackd {self.name} did not come up in {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() == -signal.SIGKILL:
            # a killed jackd keeps its slot in JACK's shm registry (8 slots, never reused for another
            # name): once all are taken no jackd starts on the machine. One under the same name
            # takes the stale slot over, and a clean stop frees it.
            self.proc = None
            self.start()
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)  # a SIGKILLed jackd keeps its slot in the server table
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def client(self, name: str) -> jack.Client:
        return jack.Client(name, no_start_server=True, servername=self.name)


# ---------------------------------------------------------------- PipeWire's JACK
# The PipeWire leg of the suite (scripts/test runs it after the jackd one): the same tests against a
# private pipewire daemon through PipeWire's libjack. libjack is loaded once per process, so the whole
# pytest process (and the kelly processes it starts, which inherit its environment) must load
# PipeWire's: run it as `KELLY_TEST_SERVER=pipewire pw-jack pytest -m pipewire`.

SERVER_KIND = os.environ.get("KELLY_TEST_SERVER", "jackd")  # which server this pytest run tests
ON_PIPEWIRE = SERVER_KIND == "pipewire"
# where pw-jack points LD_LIBRARY_PATH (/usr/${LIB}/pipewire-0.3/jack: Debian's multiarch dir, or lib64)
PIPEWIRE_LIBJACK_DIRS = [
    d for d in [*Path("/usr/lib").glob("*/pipewire-0.3/jack"), Path("/usr/lib64/pipewire-0.3/jack")] if d.is_dir()
]

# pipewire's minimal.conf without ALSA, module-rt or the VM quantum floor: a dummy driver clocks the
# graph, and a null sink named "system" in DSP mode with monitor ports stands for the sound card, so
# clients see system:playback_1/2 and system:capture_1/2 (the monitor ports) as on jackd's dummy driver
PIPEWIRE_CONF = """\
context.properties = {{
    core.daemon = true
    core.name = {name}
    link.max-buffers = 16
    default.clock.rate = {rate}
    default.clock.allowed-rates = [ {rate} ]
    default.clock.quantum = {period}
    default.clock.min-quantum = 16
    default.clock.max-quantum = 8192
    settings.check-quantum = true
    settings.check-rate = true
    mem.mlock-all = false
    log.level = 2
}}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    support.* = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-profiler }}
    {{ name = libpipewire-module-metadata }}
    {{ name = libpipewire-module-spa-node-factory }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-access args = {{ }} }}
    {{ name = libpipewire-module-adapter }}
    {{ name = libpipewire-module-link-factory }}
]
context.objects = [
    {{ factory = metadata args = {{ metadata.name = default }} }}
    {{ factory = spa-node-factory
        args = {{ factory.name = support.node.driver node.name = Dummy-Driver node.group = pipewire.dummy
                 priority.driver = 20000 }} }}
    {{ factory = spa-node-factory
        args = {{ factory.name = support.node.driver node.name = Freewheel-Driver node.group = pipewire.freewheel
                 priority.driver = 19000 node.freewheel = true }} }}
    {{ factory = adapter
        args = {{
            factory.name = support.null-audio-sink
            node.name = system
            node.description = system
            media.class = Audio/Duplex
            audio.position = [ FL FR ]
            adapter.auto-port-config = {{ mode = dsp monitor = true control = false position = unknown }}
        }}
    }}
]
"""

_runtime_dir: Path | None = None


def pipewire_runtime_dir() -> Path:
    """This process's private PipeWire runtime directory (the servers' sockets), removed at exit.

    The test process itself finds the servers through ``PIPEWIRE_RUNTIME_DIR``; no user's PipeWire
    (in the usual XDG_RUNTIME_DIR) is ever seen or touched.
    """
    global _runtime_dir
    if _runtime_dir is None:
        _runtime_dir = Path(tempfile.mkdtemp(prefix="kelly-pw-run-"))
        atexit.register(shutil.rmtree, _runtime_dir, True)
        os.environ["PIPEWIRE_RUNTIME_DIR"] = str(_runtime_dir)
    return _runtime_dir


def loads_pipewire_libjack() -> bool:
    """Has this process loaded PipeWire's libjack (LD_LIBRARY_PATH as pw-jack sets it)?"""
    from kelly_jack.jack.server_kind import loaded_libjack

    return "/pipewire-0.3/jack/" in loaded_libjack()


def have_pipewire() -> bool:
    return shutil.which("pipewire") is not None and any((d / "libjack.so.0").exists() for d in PIPEWIRE_LIBJACK_DIRS)


class PipeWireServer:
    """A private ``pipewire`` daemon (dummy driver, no realtime) that JACK clients reach through
    PipeWire's libjack: the same interface as ``JackServer``.

    Its socket is ``name`` in a private runtime directory; JACK clients name it as their server
    (PipeWire's libjack takes the JACK server name for the socket name; tools reach it through
    ``PIPEWIRE_REMOTE``). ``rate`` and ``period`` are the graph's (``default.clock.rate``, the only
    allowed rate, and ``default.clock.quantum``). Clients get no ``PIPEWIRE_QUANTUM`` (what
    ``pw-jack -p`` sets): it pins a client's rate, so after a restart at another rate the client
    would run at the old one (measured: 48000 Hz and 64-frame periods on a 44100 Hz graph).
    ``sync`` is accepted for jackd's ``-S`` and changes nothing (PipeWire has no such mode).
    """

    def __init__(self, rate: int = 48000, period: int = 128, sync: bool = False):
        self.name = f"kelly-pw-{os.getpid()}-{next(_counter)}"
        self.rate = rate
        self.period = period
        self.sync = sync
        self.proc: subprocess.Popen | None = None
        self.log: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes that should use this server (through PipeWire's libjack)."""
        libdirs = [str(d) for d in PIPEWIRE_LIBJACK_DIRS]
        ld = os.pathsep.join([*libdirs, *filter(None, [os.environ.get("LD_LIBRARY_PATH")])])
        return {
            **os.environ,
            "LD_LIBRARY_PATH": ld,
            "PIPEWIRE_RUNTIME_DIR": str(pipewire_runtime_dir()),
            "PIPEWIRE_REMOTE": self.name,
            "JACK_DEFAULT_SERVER": self.name,
        }

    def start(self, timeout: float = 10.0) -> PipeWireServer:
        if not loads_pipewire_libjack():
            raise RuntimeError(
                "this process loaded jackd2's libjack, not PipeWire's: run the PipeWire leg under pw-jack "
                "(KELLY_TEST_SERVER=pipewire pw-jack pytest -m pipewire), as scripts/test does"
            )
        run = pipewire_runtime_dir()
        conf = run / f"{self.name}.conf"
        conf.write_text(PIPEWIRE_CONF.format(name=self.name, rate=self.rate, period=self.period))
        self.log = run / f"{self.name}.log"
        env = {**self.env, "XDG_RUNTIME_DIR": str(run)}
        for key in ("PIPEWIRE_REMOTE", "LD_LIBRARY_PATH"):
            env.pop(key)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                dies_with_us(["pipewire", "-c", str(conf)]), env=env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pipewire exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            # up once the null sink's ports show: before that a client could connect and see no system:*
            try:
                probe = jack.Client("probe", no_start_server=True, servername=self.name)
            except jack.JackOpenError:
                time.sleep(0.1)
                continue
            try:
                if probe.get_ports("^system:capture_1$"):
                    return self
            finally:
                probe.close()
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"pipewire {self.name} did not come up in {timeout} s")

    def stop(self) -> None:
        """Stop it by PID (a killed one left only its socket and lock, which a new one takes over).

        If this process dies first (e.g. killed at scripts/test's timeout: no teardown runs), the
        kernel stops it (``dies_with_us``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def client(self, name: str) -> jack.Client:
        return jack.Client(name, no_start_server=True, servername=self.name)


def pipewire_lacks(reason: str) -> None:
    """End a test of the PipeWire leg as xfailed, after it asserted that PipeWire does not do what jackd
    does here (so a PipeWire that starts doing it fails the assertion, and docs/pipewire.md's table is redone)."""
    pytest.xfail(f"PipeWire: {reason}")


def new_server(rate: int = 48000, period: int = 128, sync: bool = False) -> JackServer | PipeWireServer:
    """A (not yet started) server of the kind this run tests: jackd, or pipewire for the PipeWire leg."""
    return (PipeWireServer if ON_PIPEWIRE else JackServer)(rate=rate, period=period, sync=sync)


# ---------------------------------------------------------------- end of PipeWire's JACK


def write_config(path: Path, server: JackServer, name: str, body: str) -> Path:
    """A kelly config on ``server`` with client name ``name`` plus ``body`` (YAML)."""
    path.write_text(f"client:\n  name: {name}\n  server: {server.name}\n" + body)
    return path


class Kelly:
    """A running ``kelly-jack`` process (stopped by PID).

    Every instance is listed in ``Kelly.running`` until stopped, so a test that fails before its own
    ``stop`` leaves no process behind (conftest's ``_stop_leftover_kellys`` stops them after each test).
    """

    running: list[Kelly] = []

    def __init__(self, server: JackServer, config: Path, *args: str, env: dict[str, str] | None = None):
        self.server = server
        self.proc = subprocess.Popen(
            dies_with_us([sys.executable, "-m", "kelly_jack", "--config", str(config), *args]),
            env=env or server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._result: tuple[int, str, str] | None = None
        Kelly.running.append(self)

    def wait_ready(self) -> str:
        """Block until kelly has activated (it prints its start line then); return that line."""
        line = self.proc.stdout.readline()
        if not line.startswith("kelly-jack: client"):
            out, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"kelly-jack did not start ({self.proc.returncode}): {line}{out}\n{err}")
        return line

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int, str, str]:
        """Signal kelly and collect (exit code, stdout, stderr); a second call returns the same."""
        if self._result is not None:
            return self._result
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self._result = (self.proc.returncode, out, err)
        if self in Kelly.running:
            Kelly.running.remove(self)
        return self._result

    def wait(self, timeout: float) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self._result = (self.proc.returncode, out, err)
        if self in Kelly.running:
            Kelly.running.remove(self)
        return self._result
