"""Real JACK servers and clients for the integration tests.

``JackServer`` starts ``jackd`` with the dummy driver under a unique server
name and stops it by its PID: the tests never touch a server they did not
start. ``run_kelly`` starts the real ``kelly-jack`` command against it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jack

_counter = itertools.count()
ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float, poll: float = 0.02) -> bool:
    """True as soon as ``predicate()`` is, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


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
            cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
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


def write_config(path: Path, server: JackServer, name: str, body: str) -> Path:
    """A kelly config on ``server`` with client name ``name`` plus ``body`` (YAML)."""
    path.write_text(f"client:\n  name: {name}\n  server: {server.name}\n" + body)
    return path


class Kelly:
    """A running ``kelly-jack`` process (stopped by PID)."""

    def __init__(self, server: JackServer, config: Path, *args: str, env: dict[str, str] | None = None):
        self.server = server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kelly_jack", "--config", str(config), *args],
            env=env or server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._result: tuple[int, str, str] | None = None

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
        return self._result

    def wait(self, timeout: float) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


class MidiRecorder:
    """A real JACK client with one MIDI input that records (jack frame time, bytes)."""

    def __init__(self, server: JackServer, name: str = "recorder"):
        self.client = server.client(name)
        self.port = self.client.midi_inports.register("in")
        self.events: list[tuple[int, bytes]] = []

        @self.client.set_process_callback
        def process(frames):
            base = self.client.last_frame_time
            for offset, data in self.port.incoming_midi_events():
                self.events.append((base + offset, bytes(data)))

        self.client.activate()

    def cc(self, number: int) -> list[tuple[int, int]]:
        """(frame, value) of every control change ``number`` received."""
        return [(t, d[2]) for t, d in self.events if len(d) == 3 and d[0] & 0xF0 == 0xB0 and d[1] == number]

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class Player:
    """A real JACK client with one audio output that plays ``signal`` once, then silence.

    ``started_at`` is the JACK frame time of the signal's first sample.
    """

    def __init__(self, server: JackServer, signal_, name: str = "player", midi: bool = False):
        self.client = server.client(name)
        self.port = self.client.outports.register("out")
        self.midi_port = self.client.midi_outports.register("midi") if midi else None
        self.signal = signal_
        self.pos = 0
        self.started_at: int | None = None
        self.playing = False
        self.midi_queue: list[bytes] = []

        @self.client.set_process_callback
        def process(frames):
            buf = self.port.get_array()
            buf.fill(0.0)
            if self.midi_port is not None:
                self.midi_port.clear_buffer()
                while self.midi_queue:
                    self.midi_port.write_midi_event(0, self.midi_queue.pop(0))
            if not self.playing:
                return
            if self.started_at is None:
                self.started_at = self.client.last_frame_time
            chunk = self.signal[self.pos : self.pos + frames]
            buf[: len(chunk)] = chunk
            self.pos += len(chunk)

        self.client.activate()

    def play(self) -> None:
        self.playing = True

    def send_midi(self, data: bytes) -> None:
        self.midi_queue.append(data)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
