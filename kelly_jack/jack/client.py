"""kelly's JACK client: ports, the GIL-free callbacks, activation and patching.

A thin layer over JACK-Client. It opens the client (never starting a server),
registers ``in_1..in_N``, ``midi_out`` and ``midi_in``, hands the port
pointers to the shared state table, registers the process and xrun callbacks
(Numba cfuncs through cffi on JACK-Client's client pointer, or JACK-Client's
Python callback in ``audio_thread: python`` mode) and applies the auto-connect
patterns after activation. Runs on the main thread.
"""

from __future__ import annotations

import sys
import threading

import jack

from ..engine.state import SharedState
from ..errors import EXIT_NO_SERVER, KellyError
from ..rt import shared_state
from .port_latency import PortLatency
from .process import freewheel_callback, process_callback, process_period, xrun_callback
from .server_kind import through_pipewire


class ServerNotRunning(KellyError):
    """No JACK server answered; ``str()`` is one line for the user."""

    exit_code = EXIT_NO_SERVER


def pointer_value(cdata) -> int:
    """A cffi pointer as an int (how pointers travel to the Numba kernels)."""
    return int(jack._ffi.cast("uintptr_t", cdata))


class KellyJackClient:
    """Owns the jack.Client and its ports for one run.

    Raises ServerNotRunning when no server is running (JACK is told not to
    start one: without a ~/.jackdrc its autostart tries ALSA and fails slowly).
    """

    def __init__(
        self,
        name: str,
        server: str | None,
        inputs: list[str],
        midi_out: str,
        midi_in: str,
        outputs: list[str] = (),
    ):
        # libjack prints several lines when no server answers; keep them out of the
        # user's way while opening (only then: these hooks would need the GIL later)
        jack_says: list[str] = []
        jack.set_error_function(jack_says.append)
        jack.set_info_function(jack_says.append)
        try:
            self.client = jack.Client(name, no_start_server=True, servername=server)
        except jack.JackOpenError as e:
            where = f"server {server!r}" if server else "the default JACK server"
            raise ServerNotRunning(
                f"cannot connect to {where} ({e}); start JACK (or PipeWire's JACK), "
                "or run scripts/demo, which starts a private one"
            ) from None
        finally:
            jack.set_error_function(None)
            jack.set_info_function(None)
        self.server = server
        self.inputs = [self.client.inports.register(n) for n in inputs]
        self.midi_out = self.client.midi_outports.register(midi_out)
        self.midi_in = self.client.midi_inports.register(midi_in)
        self.outputs = [self.client.outports.register(n) for n in outputs]
        self.latency: PortLatency | None = None
        self.server_gone = threading.Event()
        self.client.set_shutdown_callback(lambda status, reason: self.server_gone.set())
        self._state: SharedState | None = None
        self._active = False

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def samplerate(self) -> int:
        return self.client.samplerate

    @property
    def blocksize(self) -> int:
        return self.client.blocksize

    def ports(self) -> list[jack.Port]:
        """Every port of kelly in table order: inputs, midi_out, midi_in, outputs."""
        return [*self.inputs, self.midi_out, self.midi_in, *self.outputs]

    def attach(self, state: SharedState, latency: int, audio_thread: str = "native") -> None:
        """Point the callbacks at ``state`` and report ``latency`` frames (before activate).

        ``audio_thread``: native (the cfunc) or python (JACK-Client's callback, same kernel).
        """
        for i, port in enumerate(self.ports()):
            state.ports[i] = pointer_value(port._ptr)
        self._state = state
        state.table[shared_state.T_CLIENT] = pointer_value(self.client._ptr)
        self.latency = PortLatency(
            self.client,
            [*self.inputs, self.midi_in],
            [*self.outputs, self.midi_out],
            latency,
            off_loop_thread=through_pipewire(),
        )
        arg = jack._ffi.cast("void *", state.table_address)
        lib, ffi, ptr = jack._lib, jack._ffi, self.client._ptr
        if audio_thread == "native":
            cb = ffi.cast("JackProcessCallback", process_callback.address)
            if lib.jack_set_process_callback(ptr, cb, arg) != 0:
                raise jack.JackError("jack_set_process_callback failed")
        else:
            table = state.table
            process_period.compile("int64(int64, int64[::1])")  # not on the first period
            self.client.set_process_callback(lambda frames: process_period(frames, table))
        if lib.jack_set_xrun_callback(ptr, ffi.cast("JackXRunCallback", xrun_callback.address), arg) != 0:
            raise jack.JackError("jack_set_xrun_callback failed")
        fw = ffi.cast("JackFreewheelCallback", freewheel_callback.address)
        if lib.jack_set_freewheel_callback(ptr, fw, arg) != 0:
            raise jack.JackError("jack_set_freewheel_callback failed")

    def activate(self, connect: dict[str, list[str]], pretty_names: bool = True) -> list[str]:
        """Activate, set pretty names, apply auto-connect patterns; return warnings."""
        self.client.activate()
        self._active = True
        warnings = []
        if pretty_names:
            warnings += self._set_pretty_names()
        warnings += self._auto_connect(connect)
        return warnings

    def _set_pretty_names(self) -> list[str]:
        try:
            for port in self.ports():
                pretty = f"Kelly {port.shortname.replace('_', ' ')}"
                self.client.set_property(port, jack.METADATA_PRETTY_NAME, pretty)
        except (jack.JackError, AttributeError) as e:
            return [f"server does not take metadata pretty names ({e})"]
        return []

    def _auto_connect(self, connect: dict[str, list[str]]) -> list[str]:
        warnings = []
        by_name = {p.shortname: p for p in self.ports()}
        for short, patterns in connect.items():
            mine = by_name[short]
            for pattern in patterns:
                # JACK matches the pattern (a POSIX extended regex) against full port names
                peers = self.client.get_ports(
                    pattern,
                    is_audio=mine.is_audio,
                    is_midi=mine.is_midi,
                    is_output=mine.is_input,
                    is_input=mine.is_output,
                )
                if not peers:
                    warnings.append(f"connect.{short}: no port matches {pattern!r}")
                for peer in peers:
                    src, dst = (peer, mine) if mine.is_input else (mine, peer)
                    try:
                        self.client.connect(src, dst)
                    except jack.JackError as e:
                        warnings.append(f"connect.{short}: {src.name} -> {dst.name} failed: {e}")
        return warnings

    def connections(self) -> list[tuple[str, str]]:
        """Every connection of kelly's ports as (source, destination) full port names."""
        pairs = []
        for port in self.ports():
            for peer in self.client.get_all_connections(port):
                pairs.append((port.name, peer.name) if port.is_output else (peer.name, port.name))
        return pairs

    def restore_connections(self, pairs: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
        """Connect each (source, destination) again; (how many now connected, the pairs that failed)."""
        done, failed = 0, []
        for src, dst in pairs:
            try:
                self.client.connect(src, dst)
                done += 1
            except jack.JackError as e:
                if "already" in str(e).lower():  # the auto-connect patterns made it again
                    done += 1
                else:
                    failed.append((src, dst))
        return done, failed

    def close(self) -> None:
        """Deactivate and close. Stop every GIL-holding thread first (jackd2 cancels
        the process thread in deactivate; one waiting for the GIL would hang us)."""
        if self.latency is not None:
            self.latency.close()
        if self._active and not self.server_gone.is_set():
            self.client.deactivate()
        self._active = False
        try:
            self.client.close()
        except jack.JackError as e:  # the server may be gone already
            print(f"kelly-jack: close: {e}", file=sys.stderr)
