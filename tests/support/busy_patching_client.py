"""A child process for test_latency_jack: kelly's own JACK client (``KellyJackClient``, set up as
kelly-jack sets it up), its main thread busy patching while the server makes it set latency ranges.

    python tests/support/busy_patching_client.py SERVER SECONDS LATENCY

For SECONDS the main thread connects kelly's ports to a peer client's, renames them (metadata pretty
names) and disconnects them again, round after round: every connection change makes the server call
kelly's latency callback while the main thread sends its next request. Then it connects ``in_1`` once
more and waits until ``out_1``'s capture range is LATENCY frames (the peer's port reports none), and
prints ``rounds N``. Exit 0 when all went well; a client whose ranges are set unsafely dies (PipeWire
0.3.65 aborted or crashed within 2 s in 8 of 8 runs, see kelly_jack/jack/port_latency.py).
"""

from __future__ import annotations

import sys
import time

import jack

from kelly_jack.engine.state import SharedState
from kelly_jack.jack import latency_api
from kelly_jack.jack.client import KellyJackClient

PORTS = 4


def main(server: str, seconds: float, latency: int) -> int:
    kelly = KellyJackClient("k-busy", server, [f"in_{i + 1}" for i in range(PORTS)], "midi_out", "midi_in",
                            [f"out_{i + 1}" for i in range(PORTS)])  # fmt: skip
    peer = jack.Client("peer-busy", no_start_server=True, servername=server)
    sends = [peer.outports.register(f"send_{i}") for i in range(PORTS)]
    returns = [peer.inports.register(f"return_{i}") for i in range(PORTS)]
    kelly.attach(SharedState(PORTS, outputs=True, latency=latency), latency)
    kelly.activate({})
    peer.activate()
    client, rounds = kelly.client, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i in range(PORTS):
            client.connect(sends[i], kelly.inputs[i])
            client.connect(kelly.outputs[i], returns[i])
            client.set_property(kelly.outputs[i], jack.METADATA_PRETTY_NAME, f"busy {rounds}")
        for i in range(PORTS):
            client.disconnect(sends[i], kelly.inputs[i])
            client.disconnect(kelly.outputs[i], returns[i])
        rounds += 1
    client.connect(sends[0], kelly.inputs[0])
    deadline = time.monotonic() + 5
    while (seen := latency_api.get_range(kelly.outputs[0], latency_api.CAPTURE)) != (latency, latency):
        if time.monotonic() > deadline:
            print(f"out_1's capture range is {seen}, not {latency}")
            return 1
        time.sleep(0.02)
    print(f"rounds {rounds}")
    peer.close()
    kelly.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
