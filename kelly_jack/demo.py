"""A demo source: a JACK client that plays synthesised music whose mood changes every few seconds.

    python -m kelly_jack.demo [--server NAME] [--connect REGEX ...] [--seconds-per-mood 5]

Four moods in turn, each ``--seconds-per-mood`` long: *bright* (loud, high
register, many harmonics), *tender* (soft, high register), *sombre* (soft,
low register, pure tones) and *driving* (loud, low register, harsh). They are
made to move kelly's stub ``heuristic`` backend (loudness -> arousal,
brightness -> valence) round all four quadrants; they are not labelled data.

The whole loop is rendered once with numpy before activation; the process
callback (plain Python: this is a test client, not kelly) only copies slices.
It connects its outputs to every port matching ``--connect`` as soon as such
ports appear, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading

import numpy as np

MOODS = (
    # name, RMS, base MIDI note, scale steps, notes per second, harmonics, distortion
    ("bright", 0.25, 72, (0, 4, 7, 12, 16, 19), 8.0, 6, False),
    ("tender", 0.01, 76, (0, 4, 7, 11, 14), 2.0, 2, False),
    ("sombre", 0.01, 40, (0, 3, 7, 10), 1.0, 1, False),
    ("driving", 0.25, 36, (0, 1, 6, 7), 6.0, 1, True),
)


def render(rate: int, seconds_per_mood: float, seed: int = 0) -> np.ndarray:
    """The demo loop as float32 mono at ``rate`` Hz."""
    rng = np.random.default_rng(seed)
    segments = []
    for _name, rms, base, steps, notes_per_s, harmonics, distort in MOODS:
        n = int(seconds_per_mood * rate)
        out = np.zeros(n)
        note_len = int(rate / notes_per_s)
        t = np.arange(note_len) / rate
        envelope = np.minimum(1.0, t * 200.0) * np.exp(-t * notes_per_s * 1.5)
        for start in range(0, n, note_len):
            midi = base + steps[rng.integers(len(steps))]
            f = 440.0 * 2 ** ((midi - 69) / 12)
            tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, harmonics + 1))
            chunk = (tone * envelope)[: n - start]
            out[start : start + len(chunk)] += chunk
        if distort:
            out = np.tanh(4 * out)
        out *= rms / max(np.sqrt(np.mean(out**2)), 1e-9)
        segments.append(np.clip(out, -1, 1))
    return np.concatenate(segments).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    import jack

    p = argparse.ArgumentParser(prog="python -m kelly_jack.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--server", help="JACK server name")
    p.add_argument("--name", default="kelly-demo-source", help="JACK client name")
    p.add_argument("--connect", action="append", default=[], metavar="REGEX", help="input ports to feed")
    p.add_argument("--seconds-per-mood", type=float, default=5.0)
    args = p.parse_args(argv)

    client = jack.Client(args.name, no_start_server=True, servername=args.server)
    out = client.outports.register("out")
    loop = render(client.samplerate, args.seconds_per_mood)
    pos = [0]

    @client.set_process_callback
    def process(frames):
        buf = out.get_array()
        i = pos[0]
        take = min(frames, len(loop) - i)
        buf[:take] = loop[i : i + take]
        buf[take:] = loop[: frames - take]
        pos[0] = (i + frames) % len(loop)

    stop = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.set())
    client.activate()
    connected: set[str] = set()
    while not stop.wait(0.2):
        for pattern in args.connect:
            for port in client.get_ports(pattern, is_audio=True, is_input=True):
                if port.name not in connected:
                    try:
                        client.connect(out, port)
                        connected.add(port.name)
                    except jack.JackError:
                        pass  # the port went away between listing and connecting
    client.deactivate()
    client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
