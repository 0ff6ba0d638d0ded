"""Arranged clips: melody, chords or pad, bass and drums on several General MIDI programs, with mixer settings.

Channels: 0 melody (the clip's ``Cues.program``), 1 chords (``Arrangement.chords``:
the melody seed's block, arpeggio or pulse texture), 2 bass (``Arrangement.bass``: the
root of each bar's chord, low), 9 drums (the GM kit, ``drums.groove`` at the clip's drum
level). The melody and chord notes are ``music.notes`` of the clip's cues and seed, so
key, progression, texture, rhythm and contour are those of the melody style; the
register, velocity and note length cues apply to melody, chords and bass alike.

Mixer settings per channel, set at the clip's start: volume (CC7, the balance), reverb
send (CC91) and chorus send (CC93), rendered by fluidsynth's reverb and chorus.

A clip may change cues part-way (``Change``): the notes that start before the change
are those of the first cues (cut at the change), those from it on of the second; the
programs and mixer settings stay. Everything follows from integers and seeds: same
inputs, same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import mido
import numpy as np

from . import drums
from .cues import DRUM_LEVELS, MODES, Cues
from .instruments import bass_pool
from .music import TICKS_PER_BEAT, Note, frame, notes

MELODY, CHORDS, BASS, DRUMS = 0, 1, 2, drums.CHANNEL
CHANNELS = (MELODY, CHORDS, BASS, DRUMS)
BASS_RANGE = (28, 47)  # MIDI notes the bass roots are placed in (E1 .. B2)
# Mixer ranges (MIDI controller values, drawn uniformly per clip and channel):
VOLUME = (80, 120)  # CC7: the balance of the parts
REVERB_SEND = (0, 90)  # CC91 of the clip; each channel's send is this +- 15 (0 = dry)
CHORUS_SEND = (0, 50)  # CC93 of the clip; each channel's send is this +- 10
BASS_STEPS = (4.0, 2.0, 1.0, 0.5)  # beats per bass note, by bass rhythm 0..3


@dataclass(frozen=True)
class Arrangement:
    """The parts and mix of one arranged clip (its melody program is ``Cues.program``)."""

    chords: int  # GM program of the chords or pad (channel 1)
    bass: int  # GM program of the bass (channel 2)
    bass_rhythm: int  # 0 whole notes .. 3 eighths (BASS_STEPS); drawn with the drum level, fixed in a pair
    volume: tuple[int, int, int, int]  # CC7 per channel of CHANNELS
    reverb: tuple[int, int, int, int]  # CC91 per channel
    chorus: tuple[int, int, int, int]  # CC93 per channel
    seed: int  # drum variant and humanisation


@dataclass(frozen=True)
class Change:
    """Cues that switch part-way: from ``at`` (a fraction of the clip, 0..1) on, ``cues`` hold."""

    at: float
    cues: Cues
    changed: tuple[str, ...]  # the names of the cues that switch (cues.CUES names)


def drum_level(rng: np.random.Generator, cues: Cues) -> int:
    """A drum level drawn to follow the tempo and dynamics cues (busier when faster and louder), 0..3.

    round(1.5 + 1.5 * (0.6 tempo + 0.4 dynamics) + N(0, 0.8)), clipped: about one clip in five
    has no drums, mostly slow and soft ones.
    """
    v = cues.values()
    x = 1.5 + 1.5 * (0.6 * v["tempo"] + 0.4 * v["dynamics"]) + float(rng.normal(0.0, 0.8))
    return int(np.clip(round(x), 0, DRUM_LEVELS - 1))


def draw(rng: np.random.Generator, table: dict[int, tuple[str, float]], drum: int) -> Arrangement:
    """Programs (from ``table`` only: a set's programs stay in their set) and mix of one clip."""
    programs = sorted(table)
    basses = bass_pool(table)
    chords = programs[int(rng.integers(len(programs)))]
    bass = basses[int(rng.integers(len(basses)))]
    bass_rhythm = int(np.clip(drum + rng.integers(-1, 2), 0, len(BASS_STEPS) - 1))
    volume = tuple(int(x) for x in rng.integers(VOLUME[0], VOLUME[1] + 1, size=4))
    rev = int(rng.integers(REVERB_SEND[0], REVERB_SEND[1] + 1))
    cho = int(rng.integers(CHORUS_SEND[0], CHORUS_SEND[1] + 1))
    reverb = tuple(int(np.clip(rev + x, 0, 127)) for x in rng.integers(-15, 16, size=4))
    chorus = tuple(int(np.clip(cho + x, 0, 127)) for x in rng.integers(-10, 11, size=4))
    return Arrangement(chords, bass, bass_rhythm, volume, reverb, chorus, int(rng.integers(2**31)))


def brightness(table: dict[int, tuple[str, float]], melody: int, chords: int) -> float:
    """The timbre cue of an arrangement: the mean brightness of its melody and chord programs."""
    return round((table[melody][1] + table[chords][1]) / 2.0, 3)


def bass_notes(cues: Cues, seed: int, rhythm: int, seconds: float) -> list[Note]:
    """The bass part (channel 2): each bar's chord root in BASS_RANGE, at the bass rhythm, sorted."""
    fr = frame(seed)
    scale_steps = MODES[cues.mode][0]
    beat = 60.0 / cues.bpm
    step = BASS_STEPS[rhythm]
    out = []
    bars = int(np.ceil(seconds / (4 * beat))) + 1
    for bar in range(bars):
        degree = fr.progression[bar % len(fr.progression)]
        pc = (fr.tonic + scale_steps[degree]) % 12
        root = BASS_RANGE[0] + (pc - BASS_RANGE[0]) % 12
        fifth = root + 7 if root + 7 <= BASS_RANGE[1] else root - 5
        for i in range(int(4 / step)):
            start = (4.0 * bar + i * step) * beat
            if start >= seconds:
                break
            pitch = fifth if rhythm >= 2 and i % 4 == 2 else root
            end = min(start + max(step * beat * cues.note_length, 0.03), seconds)
            v = int(min(max(round(cues.velocity * 0.9 + (6 if i == 0 else 0)), 1), 127))
            out.append(Note(round(start, 6), round(end, 6), BASS, pitch, v))
    return out


def part_notes(cues: Cues, seed: int, arr: Arrangement, seconds: float) -> list[Note]:
    """All parts of a clip whose cues hold throughout, sorted by (start, channel, pitch)."""
    out = notes(cues, seed, seconds)  # melody on channel 0, chords on channel 1
    out += bass_notes(cues, seed, arr.bass_rhythm, seconds)
    out += drums.groove(cues.drums or 0, cues.bpm, seconds, cues.velocity, arr.seed)
    out.sort(key=lambda n: (n.start, n.channel, n.pitch))
    return out


def clip_notes(cues: Cues, seed: int, arr: Arrangement, seconds: float, change: Change | None) -> list[Note]:
    """The notes of an arranged clip; with ``change``, spliced at ``change.at * seconds`` (see the module doc)."""
    if change is None:
        return part_notes(cues, seed, arr, seconds)
    cut = round(change.at * seconds, 6)
    first = [
        Note(n.start, min(n.end, cut), n.channel, n.pitch, n.velocity)
        for n in part_notes(cues, seed, arr, seconds)
        if n.start < cut
    ]
    second = [n for n in part_notes(change.cues, seed, arr, seconds) if n.start >= cut]
    out = [n for n in first if n.end > n.start] + second
    out.sort(key=lambda n: (n.start, n.channel, n.pitch))
    return out


def setup_messages(melody: int, arr: Arrangement) -> list[mido.Message]:
    """Program changes and mixer controllers (CC7, CC91, CC93) of every channel, for the clip's start."""
    out = []
    programs = (melody, arr.chords, arr.bass, 0)  # program 0 on channel 9: the standard kit
    for i, ch in enumerate(CHANNELS):
        out.append(mido.Message("program_change", channel=ch, program=programs[i]))
        out.append(mido.Message("control_change", channel=ch, control=7, value=arr.volume[i]))
        out.append(mido.Message("control_change", channel=ch, control=91, value=arr.reverb[i]))
        out.append(mido.Message("control_change", channel=ch, control=93, value=arr.chorus[i]))
    return out


def midi_bytes(cues: Cues, arr: Arrangement, clip: list[Note], change: Change | None, seconds: float) -> bytes:
    """The clip as a type-1 Standard MIDI File: tempo (and its change), the setup, the notes of every part."""
    tempos = [(0.0, cues.bpm)]
    if change is not None and change.cues.bpm != cues.bpm:
        tempos.append((round(change.at * seconds, 6), change.cues.bpm))

    def ticks(t: float) -> int:  # seconds to ticks through the tempo map
        total, (t_prev, bpm) = 0.0, tempos[0]
        for t_next, bpm_next in tempos[1:]:
            if t < t_next:
                break
            total += (t_next - t_prev) * bpm / 60.0 * TICKS_PER_BEAT
            t_prev, bpm = t_next, bpm_next
        return int(round(total + (t - t_prev) * bpm / 60.0 * TICKS_PER_BEAT))

    f = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = [(ticks(t), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for t, bpm in tempos]
    f.tracks.append(_track(meta))
    events = [(0, -1, i, m) for i, m in enumerate(setup_messages(cues.program, arr))]
    for n in clip:
        on, off = ticks(n.start), ticks(n.end)
        events.append((on, 1, 0, mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity)))
        events.append((max(off, on + 1), 0, 0, mido.Message("note_off", channel=n.channel, note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2], e[3].channel, getattr(e[3], "note", 0)))
    f.tracks.append(_track([(t, m) for t, _, _, m in events]))
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def _track(timed: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    """(absolute tick, message) pairs, in order, as a track of delta times."""
    track = mido.MidiTrack()
    last = 0
    for t, m in timed:
        track.append(m.copy(time=t - last))
        last = t
    return track
