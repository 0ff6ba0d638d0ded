"""The harmony generator through the runner and scheduler, no JACK: musical facts of its output."""

from __future__ import annotations

import numpy as np
import pytest

from kelly_jack.midi.generators.harmony import MODES, Harmony, HarmonyError, mode_for, parse_key, voice
from kelly_jack.midi.runner import GeneratorRunner
from kelly_jack.midi.scheduler import EventScheduler
from kelly_jack.rt import midi_events

RATE, HOP, LATENCY = 48000, 1024, 1984


def render(valence: float, arousal: float, seconds: float = 8.0, key: str = "C", stop: bool = True):
    """Events (frame, bytes) the harmony generator queues for constant valence/arousal."""
    hdr, data = midi_events.new_events(1 << 14)
    sched = EventScheduler(hdr, data)
    runner = GeneratorRunner([Harmony({"channel": 3, "key": key})], sched, RATE, LATENCY, HOP)
    t = HOP - 1
    while t < seconds * RATE:
        runner.after_result(t, valence, arousal)
        t += HOP
    if stop:
        runner.stop(t + 1 + LATENCY)
    else:
        sched.release(1 << 40)
    events, last = [], 0
    while True:
        offset, packed, _ = midi_events.take_due(hdr, data, 0, 1 << 40, last)
        if offset < 0:
            return events
        size = midi_events.message_size(packed)
        events.append((int(offset), bytes(midi_events.message_byte(packed, i) for i in range(size))))
        last = offset


def note_ons(events):
    return [(f, m[1], m[2]) for f, m in events if m[0] & 0xF0 == 0x90 and m[2] > 0]


def hanging(events) -> set:
    on: dict[int, int] = {}
    for _, m in events:
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            on[m[1]] = on.get(m[1], 0) + 1
        elif m[0] & 0xF0 == 0x80:
            on[m[1]] = on.get(m[1], 0) - 1
    return {n for n, c in on.items() if c > 0}


@pytest.mark.parametrize(("valence", "mode"), [(0.8, "lydian"), (0.3, "major"), (-0.3, "minor"), (-0.8, "phrygian")])
def test_every_note_is_in_the_mode_valence_picks(valence, mode):
    ons = note_ons(render(valence, 0.5, key="D"))
    assert ons
    scale = {(2 + step) % 12 for step in MODES[mode]}
    assert {n % 12 for _, n, _ in ons} <= scale


def test_density_and_velocity_rise_with_arousal():
    rates, velocities = [], []
    for arousal in (-0.8, 0.0, 0.8):
        ons = note_ons(render(0.3, arousal))
        rates.append(len(ons))
        velocities.append(sum(v for _, _, v in ons) / len(ons))
    assert rates[0] < rates[1] < rates[2]
    assert velocities[0] < velocities[1] < velocities[2]


def test_register_rises_with_valence_and_arousal():
    means = [sum(n for _, n, _ in note_ons(render(v, v))) / len(note_ons(render(v, v))) for v in (-0.7, 0.0, 0.7)]
    assert means[0] < means[1] < means[2]


@pytest.mark.parametrize(("valence", "arousal"), [(0.8, 0.9), (-0.6, -0.6), (0.2, -0.1)])
def test_no_hanging_notes_after_stop_and_notes_start_on_the_output_time_line(valence, arousal):
    events = render(valence, arousal)
    assert hanging(events) == set()
    assert min(f for f, _ in events) >= HOP + LATENCY  # nothing before the first result's output frame
    frames = [f for f, _ in events]
    assert frames == sorted(frames)


def test_notes_end_with_their_own_note_offs_without_a_stop():
    assert hanging(render(0.5, 0.5, stop=False)) == set()


def test_same_input_same_events():
    assert render(0.1, 0.4) == render(0.1, 0.4)


def test_voice_leading_moves_little():
    c = voice([0, 4, 7], 60, None)
    f = voice([5, 9, 0], 60, c)  # C -> F: the nearest inversion is C-F-A over C-E-G
    assert sum(abs(a - b) for a, b in zip(c, f, strict=True)) <= 3


def test_mode_hysteresis_and_keys():
    assert mode_for(0.12) == "major" and mode_for(0.08, "major") == "major" and mode_for(0.0, "major") == "dorian"
    assert parse_key("F#") == 6 and parse_key("Bb") == 10 and parse_key("auto") is None
    with pytest.raises(HarmonyError, match="key"):
        Harmony({"key": "H"})
    with pytest.raises(HarmonyError, match="channel"):
        Harmony({"channel": 17})
    with pytest.raises(HarmonyError, match="unknown option 'tempo'"):
        Harmony({"tempo": 3})


def tones(midi_notes, seconds, rate=48000):
    """A sum of harmonic tones (the pitches of ``midi_notes``), as a test signal in one key."""
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for n in midi_notes:
        f = 440 * 2 ** ((n - 69) / 12)
        x += sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3))
    return (0.1 * x).astype(np.float32)


@pytest.mark.parametrize(("chord", "tonic"), [((62, 66, 69, 74), 2), ((57, 60, 64, 69), 9)])
def test_key_auto_follows_the_key_of_the_audio(chord, tonic):
    from kelly_jack.backends import create_backend
    from kelly_jack.config import parse_config
    from kelly_jack.offline.engine import OfflineEngine

    cfg = parse_config("ports: {inputs: 1}\n")
    engine = OfflineEngine(cfg, create_backend("constant", {"valence": 0.3, "arousal": 0.5}),
                           [Harmony({"channel": 3, "key": "auto"})], RATE, 1)  # fmt: skip
    engine.feed(tones(chord, 6.0)[:, None])
    engine.finish()
    assert engine.runner.key.tonic is None  # the stop resets it
    ons = [(f, m[1]) for f, m in engine.event_list() if m[0] == 0x92 and m[2] > 0]
    late = [n % 12 for f, n in ons if f > 3 * RATE]  # after the tracker has settled
    assert late and set(late) <= {(tonic + s) % 12 for s in MODES["major"]}


def test_cc_generator_sends_changed_values_once_a_hop_with_dominance():
    from kelly_jack.midi.generators.cc import CCError, ControlChanges

    hdr, data = midi_events.new_events(1024)
    sched = EventScheduler(hdr, data)
    runner = GeneratorRunner([ControlChanges({"channel": 5, "dominance": 30})], sched, RATE, LATENCY, HOP)
    for k, (v, a, d) in enumerate([(0.0, 0.0, 0.5), (0.0, 0.0, 0.5), (1.0, -1.0, 0.5), (1.0, -1.0, -1.0)]):
        runner.after_result(HOP - 1 + k * HOP, v, a, d)
    sched.release(1 << 40)
    got, last = [], 0
    while (e := midi_events.take_due(hdr, data, 0, 1 << 40, last))[0] >= 0:
        last = e[0]
        got.append((int(e[0]) - HOP - LATENCY, [int(midi_events.message_byte(e[1], i)) for i in range(3)]))
    assert got == [
        (0, [0xB4, 20, 64]),
        (0, [0xB4, 21, 64]),
        (0, [0xB4, 30, 95]),
        (2 * HOP, [0xB4, 20, 127]),
        (2 * HOP, [0xB4, 21, 0]),
        (3 * HOP, [0xB4, 30, 0]),
    ]
    with pytest.raises(CCError, match="distinct"):
        ControlChanges({"valence": 7, "arousal": 7})
    with pytest.raises(CCError, match="channel"):
        ControlChanges({"channel": 0})
