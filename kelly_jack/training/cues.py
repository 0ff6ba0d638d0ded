"""Musical cues of a corpus clip and the rules that turn them into valence and arousal.

Every cue is a number in -1..1 (its direction below); the labels are additive
in the cues, as Eerola, Friberg & Bresin (2013) found the primary cues to be
roughly additive, with weights ordered by the importance they measured
(mode > tempo > register > dynamics > articulation > timbre) and signs taken
from the directions summarised by Gabrielsson & Lindstroem (2010). Consonance
(not one of Eerola's six) follows Gabrielsson & Lindstroem: dissonance lowers
valence and raises arousal. The model card (models/README.md) lists the rules.

=============  ======================================  =================================
cue            -1                                      +1
=============  ======================================  =================================
mode           phrygian / harmonic minor (dark)        ionian (major, bright)
tempo          60 BPM                                  180 BPM
register       melody centred on MIDI note 48          MIDI note 84
dynamics       velocity 30 (soft)                      velocity 120 (loud)
articulation   legato (notes sound 100 % of their      staccato (25 %)
               length)
consonance     clusters, tritones, minor seconds       plain triads
timbre         dark, soft instruments                  bright instruments (brass, reeds)
drums          no drums                                sixteenth hi-hats and fills
               (arrangement style only; 0 otherwise)
=============  ======================================  =================================

The drum cue exists only in arranged clips (``Cues.drums`` is None in the
melody style, where it adds nothing): a busier groove is more active
(Gabrielsson & Lindstroem: more rhythmic activity, higher arousal); its weight is
small, below dynamics, and it has no valence weight.
"""

from __future__ import annotations

from dataclasses import dataclass

# Modal brightness: Temperley & Tan 2013 (ionian happiest, falling as scale degrees are lowered,
# lydian below ionian); harmonic minor, not in their study, between aeolian and phrygian.
MODES: dict[str, tuple[tuple[int, ...], float]] = {
    "ionian": ((0, 2, 4, 5, 7, 9, 11), 1.0),
    "lydian": ((0, 2, 4, 6, 7, 9, 11), 0.7),
    "mixolydian": ((0, 2, 4, 5, 7, 9, 10), 0.5),
    "dorian": ((0, 2, 3, 5, 7, 9, 10), -0.3),
    "aeolian": ((0, 2, 3, 5, 7, 8, 10), -0.8),
    "harmonic_minor": ((0, 2, 3, 5, 7, 8, 11), -0.9),
    "phrygian": ((0, 1, 3, 5, 7, 8, 10), -1.0),
}

TEMPO_BPM = (60.0, 180.0)
REGISTER_NOTE = (48.0, 84.0)
VELOCITY = (30.0, 120.0)
NOTE_LENGTH = (1.0, 0.25)  # legato .. staccato, share of the note's time it sounds
CONSONANCE_LEVELS = 4  # 0: triads, 1: sevenths, 2: added seconds and fourths, 3: clusters and tritones
DRUM_LEVELS = 4  # 0: no drums, 1: kick and snare, 2: eighth hi-hats, 3: sixteenth hi-hats and fills

# label = sum(weight * cue), on -1..1; DEAM's 1..9 scale is 5 + 4 * label.
VALENCE_WEIGHTS = {
    "mode": 0.40,
    "tempo": 0.14,
    "register": 0.12,
    "consonance": 0.12,
    "dynamics": -0.05,
    "articulation": 0.04,
    "timbre": 0.03,
    "drums": 0.0,
}
AROUSAL_WEIGHTS = {
    "mode": 0.0,
    "tempo": 0.40,
    "register": 0.10,
    "consonance": -0.06,
    "dynamics": 0.22,
    "articulation": 0.10,
    "timbre": 0.06,
    "drums": 0.06,  # the arousal weights sum to 1.0 in absolute value: labels stay in -1..1
}
CUES = tuple(VALENCE_WEIGHTS)


def scale(value: float, lo: float, hi: float) -> float:
    """``value`` in lo..hi as a cue in -1..1."""
    return 2.0 * (value - lo) / (hi - lo) - 1.0


def unscale(cue: float, lo: float, hi: float) -> float:
    """The inverse of ``scale``."""
    return lo + (cue + 1.0) * (hi - lo) / 2.0


@dataclass(frozen=True)
class Cues:
    """One clip's musical parameters; ``values()`` gives them as cues in -1..1."""

    mode: str
    bpm: float
    register: float  # centre MIDI note of the melody
    velocity: float
    note_length: float  # share of each note's time that sounds
    consonance: int  # 0 (plain triads) .. CONSONANCE_LEVELS - 1 (clusters)
    program: int  # General MIDI program 0..127
    brightness: float  # timbre cue of the program (of the melody and chord programs in an arrangement), -1..1
    drums: int | None = None  # drum groove level 0..DRUM_LEVELS - 1 (arrangements); None: no drum cue

    def values(self) -> dict[str, float]:
        return {
            "mode": MODES[self.mode][1],
            "tempo": scale(self.bpm, *TEMPO_BPM),
            "register": scale(self.register, *REGISTER_NOTE),
            "dynamics": scale(self.velocity, *VELOCITY),
            "articulation": scale(self.note_length, *NOTE_LENGTH),
            "consonance": 1.0 - 2.0 * self.consonance / (CONSONANCE_LEVELS - 1),
            "timbre": self.brightness,
            "drums": 0.0 if self.drums is None else scale(self.drums, 0, DRUM_LEVELS - 1),
        }


def label(cues: Cues) -> tuple[float, float]:
    """(valence, arousal) on -1..1 from the additive rules."""
    v = cues.values()
    return (
        sum(w * v[k] for k, w in VALENCE_WEIGHTS.items()),
        sum(w * v[k] for k, w in AROUSAL_WEIGHTS.items()),
    )


def to_deam(x: float) -> float:
    """-1..1 to DEAM's 1..9 rating scale."""
    return 5.0 + 4.0 * x


def from_deam(x: float) -> float:
    """DEAM's 1..9 rating scale to -1..1."""
    return (x - 5.0) / 4.0
