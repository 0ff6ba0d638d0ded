"""kelly-jack's built-in MIDI generators, registered as an ordinary plugin."""

from __future__ import annotations

from ...hookspecs import GeneratorFactory, hookimpl
from .cc import ControlChanges
from .harmony import Harmony


@hookimpl
def kelly_jack_generators() -> list[GeneratorFactory]:
    return [
        GeneratorFactory("harmony", Harmony, "emotion-driven chords and arpeggios (mode, density, register)"),
        GeneratorFactory("cc", ControlChanges, "valence, arousal, dominance as control changes, once a hop"),
    ]
