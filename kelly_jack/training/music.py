"""Clip generation: the notes of one clip from its cues, and its Standard MIDI File.

A clip is a melody (channel 0) over a chord accompaniment (channel 1), both on
the clip's General MIDI program. What varies with the cues: the scale (mode),
the tempo, the register (the melody's centre note; the accompaniment an
octave below), the velocity, the share of each note's time that sounds
(articulation) and the chord colour (consonance). What the melody ``seed``
fixes: the key, the chord progression, the texture, the rhythm and the
melodic contour, so two clips with the same seed differ only in their cues.
Everything is computed from integers and the seed: same inputs, same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import mido
import numpy as np

from .cues import MODES, Cues

TICKS_PER_BEAT = 480
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4), (0, 5, 1, 4), (0, 2, 3, 4))
TEXTURES = ("block", "arpeggio", "pulse")
RHYTHMS = ((1, 1, 1, 1), (0.5, 0.5, 1, 1, 1), (1, 0.5, 0.5, 1, 1), (0.5,) * 8, (1.5, 0.5, 1, 1), (2, 1, 1))


@dataclass(frozen=True)
class Note:
    start: float  # seconds from the clip's start
    end: float
    channel: int
    pitch: int
    velocity: int


def chord_tones(scale: tuple[int, ...], degree: int, consonance: int) -> list[int]:
    """Semitones above the tonic of the chord on ``degree``: a triad, coloured by ``consonance``."""

    def step(k: int) -> int:
        return scale[(degree + k) % 7] + 12 * ((degree + k) // 7)

    tones = [step(0), step(2), step(4)]
    if consonance >= 1:
        tones.append(step(6))  # seventh
    if consonance >= 2:
        tones += [step(8), step(3)]  # added ninth and fourth
    if consonance >= 3:
        tones += [step(0) + 1, step(0) + 6]  # minor second and tritone above the root
    return sorted(set(tones))


@dataclass(frozen=True)
class Frame:
    """What a melody seed fixes before the notes: the key's tonic (pitch class), the progression, the texture."""

    tonic: int  # 0..11
    progression: tuple[int, ...]  # scale degree of each bar's chord, repeating
    texture: str


def _frame(rng: np.random.Generator) -> Frame:
    tonic = int(rng.integers(0, 12))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    return Frame(tonic, progression, TEXTURES[int(rng.integers(len(TEXTURES)))])


def frame(seed: int) -> Frame:
    """The tonic, progression and texture of the clips of melody ``seed`` (the first draws of ``notes``)."""
    return _frame(np.random.default_rng(seed))


def notes(cues: Cues, seed: int, seconds: float) -> list[Note]:
    """The notes of a ``seconds`` long clip, sorted by start time."""
    rng = np.random.default_rng(seed)
    fr = _frame(rng)
    tonic, progression, texture = fr.tonic, fr.progression, fr.texture
    rhythms = [RHYTHMS[int(i)] for i in rng.integers(len(RHYTHMS), size=64)]
    steps = rng.choice([-2, -1, -1, 0, 1, 1, 2], size=512)
    accents = rng.integers(-6, 7, size=1024)
    scale = MODES[cues.mode][0]
    beat = 60.0 / cues.bpm
    centre = int(round(cues.register))
    # the tonic pitch nearest the register's centre, and the accompaniment an octave down
    base = centre - ((centre - tonic) % 12)
    base += 12 if centre - base > 6 else 0
    acc_base = base - 12
    out: list[Note] = []

    def add(start_beat: float, beats: float, channel: int, pitch: int, vel: float, accent: int) -> None:
        start = start_beat * beat
        if start >= seconds or not 0 <= pitch <= 127:
            return
        end = min(start + max(beats * beat * cues.note_length, 0.03), seconds)
        v = int(min(max(round(vel + accent), 1), 127))
        out.append(Note(round(start, 6), round(end, 6), channel, int(pitch), v))

    bars = int(np.ceil(seconds / (4 * beat))) + 1
    degree_pos = 0  # melody position in scale steps from the tonic
    k = 0
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = chord_tones(scale, degree, cues.consonance)
        t0 = 4.0 * bar
        acc_v = cues.velocity * 0.8
        if texture == "block":
            for half in (0, 2):
                for tone in chord:
                    add(t0 + half, 2, 1, acc_base + tone, acc_v, int(accents[k % 1024]) // 2)
                k += 1
        elif texture == "pulse":
            for b in range(4):
                for tone in chord:
                    add(t0 + b, 1, 1, acc_base + tone, acc_v - (0 if b % 2 == 0 else 8), int(accents[k % 1024]) // 2)
                k += 1
        else:
            pattern = chord[:4] if len(chord) >= 4 else chord + [chord[0] + 12]
            for e in range(8):
                tone = pattern[e % len(pattern)]
                add(t0 + 0.5 * e, 0.5, 1, acc_base + tone, acc_v, int(accents[k % 1024]) // 2)
                k += 1
        t = t0
        for length in rhythms[bar % 64]:
            degree_pos = int(np.clip(degree_pos + steps[k % 512], -5, 9))
            if t == t0:  # the downbeat lands on a chord tone
                degree_pos = degree + 7 * int(np.floor((degree_pos - degree) / 7 + 0.5))
            octave, d = divmod(degree_pos, 7)
            pitch = base + scale[d] + 12 * octave
            add(t, length, 0, pitch, cues.velocity + (8 if t == t0 else 0), int(accents[k % 1024]))
            k += 1
            t += length
    out.sort(key=lambda n: (n.start, n.channel, n.pitch))
    return out


def midi_bytes(cues: Cues, clip_notes: list[Note]) -> bytes:
    """The clip as a type-1 Standard MIDI File (tempo, program on both channels, the notes)."""
    f = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo = mido.bpm2tempo(cues.bpm)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    f.tracks.append(meta)
    track = mido.MidiTrack()
    for ch in (0, 1):
        track.append(mido.Message("program_change", channel=ch, program=cues.program, time=0))
    ticks_per_second = TICKS_PER_BEAT * 1e6 / tempo
    for t, msg in timed_messages(clip_notes, ticks_per_second):
        track.append(msg.copy(time=t))
    f.tracks.append(_delta(track))
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def timed_messages(clip_notes: list[Note], ticks_per_second: float, offset: int = 0) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) of the notes' on and off events, offs before ons at the same tick."""
    events = []
    for n in clip_notes:
        on = offset + int(round(n.start * ticks_per_second))
        off = max(offset + int(round(n.end * ticks_per_second)), on + 1)
        events.append((on, 1, mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity)))
        events.append((off, 0, mido.Message("note_off", channel=n.channel, note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2].channel, e[2].note))
    return [(t, m) for t, _, m in events]


def _delta(track: mido.MidiTrack) -> mido.MidiTrack:
    """Absolute tick times to delta times."""
    out = mido.MidiTrack()
    last = 0
    for msg in track:
        out.append(msg.copy(time=msg.time - last))
        last = msg.time
    return out
