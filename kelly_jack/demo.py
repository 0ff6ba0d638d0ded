"""A demo source: a JACK client that plays synthesised music whose mood changes every few seconds.

    python -m kelly_jack.demo [--server NAME] [--connect REGEX ...] [--seconds-per-mood 15]

Four moods in turn, each ``--seconds-per-mood`` long, composed with the cues of the model
card's label rules (models/README.md): *bright* (major, 180 BPM, eighth notes half
detached, a kick and hi-hats), *tender* (major, 66 BPM, soft, legato), *sombre* (phrygian,
60 BPM, soft, low, legato) and *driving* (phrygian, 170 BPM, staccato sixteenths, clusters
with a minor second and a tritone, distorted). Each is a bass note, a triad a bar and a
melody over it, as additive tones (no soundfont). The order changes one of valence and
arousal at a time. The shipped model's valence follows a change of mode slowly (the model
card's Limits: its sign after 7-8 s, settled after 15-20 s), so the moods last 15 s by
default. A demo, not data: nothing here measures the model.

The whole loop is rendered once with numpy before activation; the process
callback (plain Python: this is a test client, not kelly) only copies slices.
It connects its outputs to every port matching ``--connect`` as soon as such
ports appear, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import dataclass

import numpy as np

from .training.cues import MODES

LEVEL_RMS = 0.25  # the loudest moods' RMS; the others sit level_db below it


@dataclass(frozen=True)
class Mood:
    """One section of the loop, by its cues."""

    name: str
    mode: str  # a mode of the label rules (training.cues.MODES)
    bpm: float
    tonic: int  # MIDI note of the chords' tonic; the bass an octave below, the melody an octave above
    progression: tuple[int, ...]  # scale degrees (0 = tonic), one triad a bar of four beats
    notes_per_beat: int  # the melody's
    sounding: float  # share of a melody note's length that sounds: 1 legato .. 0.25 staccato
    harmonics: int  # the melody's timbre: more is brighter
    level_db: float
    drums: bool  # a kick on every beat, a hi-hat on every eighth
    clusters: bool  # a minor second and a tritone over every triad, then distortion


MOODS = (
    Mood("bright", "ionian", 180, 60, (0, 3, 4, 0), 2, 0.6, 6, 0.0, True, False),
    Mood("tender", "ionian", 66, 60, (0, 3, 4, 0), 1, 1.0, 2, -12.0, False, False),
    Mood("sombre", "phrygian", 60, 45, (0, 3, 4, 0), 1, 1.0, 2, -12.0, False, False),
    Mood("driving", "phrygian", 170, 52, (0, 1, 0, 1), 4, 0.3, 8, 0.0, False, True),
)


def _pitch(mood: Mood, degree: int) -> int:
    """MIDI note of a scale degree above the mood's tonic (degrees past 6 climb octaves)."""
    steps = MODES[mood.mode][0]
    return mood.tonic + steps[degree % 7] + 12 * (degree // 7)


def _tone(rate: int, midi: int, seconds: float, harmonics: int, sounding: float) -> np.ndarray:
    """A plucked additive tone: harmonics at 1/k, a 3 ms attack, cut after ``sounding`` of its length."""
    t = np.arange(max(1, int(seconds * rate))) / rate
    f = 440.0 * 2 ** ((midi - 69) / 12)
    tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, harmonics + 1) if f * k < rate / 2.2)
    gate = np.clip((seconds * sounding - t) * 80.0, 0.0, 1.0)
    return tone * np.minimum(1.0, t * 300.0) * np.exp(-t * 1.5) * gate


def _kick(rate: int) -> np.ndarray:
    t = np.arange(int(0.15 * rate)) / rate
    return np.sin(2 * np.pi * (50 * t + 2 * (1 - np.exp(-t * 30)))) * np.exp(-t * 25)


def _hat(rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.04 * rate)
    return 0.3 * np.diff(rng.standard_normal(n + 1)) * np.exp(-np.arange(n) / rate * 120)


def render_mood(rate: int, mood: Mood, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of ``mood`` as float64 mono at ``rate`` Hz, not yet levelled."""
    beat = 60.0 / mood.bpm
    bar = 4 * beat
    n = int(seconds * rate)
    out = np.zeros(n + int((bar + 1) * rate))  # room for the last bar's tails, cut below

    def add(at: float, x: np.ndarray) -> None:
        i = int(at * rate)
        out[i : i + len(x)] += x

    start, k = 0.0, 0
    while start < seconds:
        degree = mood.progression[k % len(mood.progression)]
        triad = [_pitch(mood, degree + d) for d in (0, 2, 4)]
        for midi in triad + ([triad[0] + 1, triad[0] + 6] if mood.clusters else []):
            add(start, 0.35 * _tone(rate, midi, bar, 3, 1.0))
        add(start, 0.5 * _tone(rate, triad[0] - 12, bar, 2, 1.0))
        step = beat / mood.notes_per_beat
        for j in range(4 * mood.notes_per_beat):
            midi = _pitch(mood, degree + int(rng.choice((0, 1, 2, 3, 4, 7)))) + 12
            add(start + j * step, _tone(rate, midi, step, mood.harmonics, mood.sounding))
        if mood.drums:
            for j in range(4):
                add(start + j * beat, 0.9 * _kick(rate))
            for j in range(8):
                add(start + j * beat / 2, _hat(rate, rng))
        start, k = start + bar, k + 1
    out = out[:n]
    if mood.clusters:
        out = np.tanh(2 * out / max(float(np.max(np.abs(out))), 1e-9))
    return out


def render(rate: int, seconds_per_mood: float, seed: int = 0) -> np.ndarray:
    """The demo loop as float32 mono at ``rate`` Hz: the moods in order, each levelled to its RMS."""
    rng = np.random.default_rng(seed)
    segments = []
    for mood in MOODS:
        x = render_mood(rate, mood, seconds_per_mood, rng)
        x *= LEVEL_RMS * 10 ** (mood.level_db / 20) / max(float(np.sqrt(np.mean(x**2))), 1e-9)
        segments.append(np.clip(x, -1, 1))
    return np.concatenate(segments).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    import jack

    p = argparse.ArgumentParser(prog="python -m kelly_jack.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--server", help="JACK server name")
    p.add_argument("--name", default="kelly-demo-source", help="JACK client name")
    p.add_argument("--connect", action="append", default=[], metavar="REGEX", help="input ports to feed")
    p.add_argument("--seconds-per-mood", type=float, default=15.0, help="how long each mood lasts (default 15)")
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
