"""Test signals, synthetic and recorded by the tests themselves (espeak-ng speech, a fluidsynth chord progression).

The recorders are Debian packages that scripts/setup installs; a missing one
fails the test (it is part of the machine the tests need), never skips it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

RATE = 48000
SOUNDFONTS = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


def _tone(freqs, seconds, amps=None, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    amps = amps or [1.0] * len(freqs)
    return sum(a * np.sin(2 * np.pi * f * t + 0.3 * i) for i, (f, a) in enumerate(zip(freqs, amps, strict=True)))


def sines(seconds=2.0):
    """440 Hz and 3 kHz, then a sweep-like step to 1234.5 Hz."""
    a = 0.4 * _tone([440.0, 3000.0], seconds / 2, [1.0, 0.3])
    b = 0.5 * _tone([1234.5], seconds / 2)
    return np.concatenate([a, b])


def chords(seconds=4.0):
    """C major, A minor, F major, G major: each note with three harmonics, 1 s each."""
    progression = ([60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62])
    parts = []
    for notes in progression:
        f0 = [440.0 * 2 ** ((n - 69) / 12) for n in notes]
        freqs = [f * h for f in f0 for h in (1, 2, 3)]
        amps = [1.0 / h for _ in f0 for h in (1, 2, 3)]
        parts.append(0.1 * _tone(freqs, seconds / len(progression), amps))
    return np.concatenate(parts)


def noise(seconds=2.0, seed=1):
    return 0.3 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


def clicks(seconds=3.0, bpm=120.0):
    """A decaying 2 kHz click every beat, over faint noise."""
    x = 1e-3 * np.random.default_rng(2).standard_normal(int(seconds * RATE))
    click = 0.8 * np.sin(2 * np.pi * 2000 * np.arange(480) / RATE) * np.exp(-np.arange(480) / 80)
    step = int(round(60.0 / bpm * RATE))
    for start in range(0, x.size - click.size, step):
        x[start : start + click.size] += click
    return x


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (scripts/setup installs it)")
    return path


def speech(tmp: Path) -> np.ndarray:
    """Speech from espeak-ng, resampled to 48 kHz."""
    wav = tmp / "speech.wav"
    text = "The quick brown fox jumps over the lazy dog. How do you feel today? Wonderful!"
    subprocess.run([_need("espeak-ng"), "-w", str(wav), text], check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64")
    return soxr.resample(x, rate, RATE) if rate != RATE else x


def write_progression_midi(path: Path, program: int = 0) -> None:
    """C - Am - F - G, two beats each at 120 BPM, on a General MIDI ``program``."""
    import mido

    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, time=0))
    for notes in ([60, 64, 67], [57, 60, 64], [53, 57, 60, 65], [55, 59, 62, 67]):
        for n in notes:
            track.append(mido.Message("note_on", note=n, velocity=90, time=0))
        for i, n in enumerate(notes):
            track.append(mido.Message("note_off", note=n, velocity=0, time=mid.ticks_per_beat * 2 if i == 0 else 0))
    mid.save(path)


def piano_progression(tmp: Path) -> np.ndarray:
    """The progression rendered by fluidsynth with a GM soundfont at 48 kHz, mixed to mono."""
    font = next((f for f in SOUNDFONTS if Path(f).exists()), None)
    if font is None:
        pytest.fail("no General MIDI soundfont (scripts/setup installs timgm6mb-soundfont)")
    midi, wav = tmp / "progression.mid", tmp / "progression.wav"
    write_progression_midi(midi)
    cmd = [_need("fluidsynth"), "-ni", "-q", "-g", "0.8", "-r", str(RATE), "-F", str(wav), font, str(midi)]
    subprocess.run(cmd, check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64", always_2d=True)
    assert rate == RATE
    return x.mean(axis=1)
