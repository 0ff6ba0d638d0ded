"""Show the PipeWire-libjack hang of a JACK client with a Python process callback, and its absence with a cfunc.

    pw-jack .venv/bin/python scripts/pipewire_gil_hang.py python [cycles] [timeout_s]
    pw-jack .venv/bin/python scripts/pipewire_gil_hang.py cfunc [cycles] [timeout_s]

Starts a private pipewire (tests/support/jackd.py ``PipeWireServer``), then opens, activates, deactivates and
closes a client with one MIDI input ``cycles`` times (default 300) while another thread keeps the GIL
busy with pure-Python work. ``python``: the client's process callback is Python (JACK-Client's
``set_process_callback``), as the tests' clients were; ``cfunc``: ``tests/support/cfunc_clients.MidiRecorder``.
PipeWire's libjack cancels the client's data thread at deactivate; one cancelled while it waits for
the GIL leaves the GIL's mutex locked and this process hung. After ``timeout_s`` (default 100) without
finishing, faulthandler prints every thread's stack and the script exits 1; else it prints the cycles
done and exits 0. The pipewire daemon is stopped by PID, or dies with this process (``dies_with_us``).
"""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.cfunc_clients import MidiRecorder  # noqa: E402
from support.jackd import PipeWireServer  # noqa: E402


def python_client_cycle(server: PipeWireServer, name: str) -> None:
    client = server.client(name)
    port = client.midi_inports.register("in")
    seen = []

    @client.set_process_callback
    def process(frames):
        for offset, _ in port.incoming_midi_events():
            seen.append(offset)

    client.activate()
    time.sleep(0.02)
    client.deactivate()
    client.close()


def cfunc_client_cycle(server: PipeWireServer, name: str) -> None:
    recorder = MidiRecorder(server, name)
    time.sleep(0.02)
    recorder.close()


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind not in ("python", "cfunc"):
        print(__doc__, file=sys.stderr)
        return 2
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    timeout_s = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
    cycle = python_client_cycle if kind == "python" else cfunc_client_cycle
    server = PipeWireServer().start()
    busy = True

    def hold_the_gil() -> None:  # pure Python: the GIL changes hands only at the switch interval
        x = 0
        while busy:
            for i in range(10000):
                x += i

    threading.Thread(target=hold_the_gil, daemon=True).start()
    faulthandler.dump_traceback_later(timeout_s, exit=True)  # exit code 1, stacks on stderr
    t0 = time.monotonic()
    try:
        for k in range(cycles):
            cycle(server, f"{kind}{k}")
        faulthandler.cancel_dump_traceback_later()
        print(f"{kind}: {cycles} open/activate/deactivate/close cycles in {time.monotonic() - t0:.1f} s, no hang")
        return 0
    finally:
        busy = False
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
