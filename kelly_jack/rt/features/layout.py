"""The 128-float feature layout (version 5): names and indices.

docs/features.md has the table with units, ranges and librosa equivalents;
a test holds that table and ``NAMES`` to the same order. A model records the
``LAYOUT_VERSION`` it was trained on; loading a model of another version is an
error (see ``kelly_jack.backends.base.check_layout_version``).
"""

from __future__ import annotations

LAYOUT_VERSION = 5
FEATURE_SIZE = 128

N_MELS = 64
N_MFCC = 19  # layout 5: mfcc_19 gave its slot to passage_db
N_CHROMA = 12
N_CONTRAST = 7  # librosa's spectral_contrast default: 6 octave bands + the rest

MEL = 0
MFCC = MEL + N_MELS  # 64
PASSAGE_DB = MFCC + N_MFCC  # 83 (layout 5): the last 0.5 s against the level reference
CHROMA = PASSAGE_DB + 1  # 84
DESCRIPTORS = CHROMA + N_CHROMA  # 96

LEVEL_DB = 96  # (layout 5: relative to the level reference; was rms_db in dBFS)
CENTROID = 97
FLATNESS = 98
FLUX = 99
CREST_DB = 100
ONSET_STRENGTH = 101
ONSET_RATE = 102
TEMPO = 103
TEMPO_DOUBLE = 104
KEY_CLARITY = 105
MAJOR_STRENGTH = 106
MINOR_STRENGTH = 107
KEY_MODE = 108
TONIC_THIRD = 109
DISSONANCE = 110  # (layout 4) interval-class dissonance of this hop's chroma
DISSONANCE_MEAN = 111  # (layout 4) its mean over consonance.SPAN_S
TEMPOGRAM = 112  # 112..117: autocorrelation strength in log-spaced tempo bands (layout 3)
N_TEMPOGRAM = 6
DUTY_CYCLE = TEMPOGRAM + N_TEMPOGRAM  # 118 (layout 3)
LEVEL_DIP_DB = 119  # (layout 3)
CONTRAST = 120  # 120..126
DELTAS = CONTRAST + N_CONTRAST  # 127

# the features whose short-term slope fills the last slot(s), in order
DELTA_OF = (LEVEL_DB,)

# the tempogram's band edges in BPM (log-spaced; band k covers TEMPOGRAM_EDGES[k] .. [k + 1])
TEMPOGRAM_BPM_MIN = 40.0
TEMPOGRAM_BPM_MAX = 240.0


def tempogram_edges() -> tuple[float, ...]:
    """The N_TEMPOGRAM + 1 band edges in BPM, log-spaced from TEMPOGRAM_BPM_MIN to TEMPOGRAM_BPM_MAX."""
    ratio = (TEMPOGRAM_BPM_MAX / TEMPOGRAM_BPM_MIN) ** (1.0 / N_TEMPOGRAM)
    return tuple(TEMPOGRAM_BPM_MIN * ratio**k for k in range(N_TEMPOGRAM + 1))


_CHROMA_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
_SCALARS = (
    "level_db",
    "centroid_hz",
    "flatness",
    "flux",
    "crest_db",
    "onset_strength",
    "onset_rate",
    "tempo_bpm",
    "tempo_double",
    "key_clarity",
    "major_strength",
    "minor_strength",
    "key_mode",
    "tonic_third",
    "dissonance",
    "dissonance_4s",
)


def _tempogram_names() -> list[str]:
    e = tempogram_edges()
    return [f"tempogram_{round((e[k] * e[k + 1]) ** 0.5):03d}" for k in range(N_TEMPOGRAM)]


def _names() -> tuple[str, ...]:
    names = [f"logmel_{i:02d}" for i in range(N_MELS)]
    names += [f"mfcc_{i:02d}" for i in range(N_MFCC)]
    names += ["passage_db"]
    names += [f"chroma_{c}" for c in _CHROMA_NAMES]
    names += list(_SCALARS)
    names += _tempogram_names()
    names += ["duty_cycle", "level_dip_db"]
    names += [f"contrast_{i}" for i in range(N_CONTRAST)]
    base = {i: n for i, n in enumerate(names)}
    names += [f"delta_{base[i]}" for i in DELTA_OF]
    return tuple(names)


NAMES: tuple[str, ...] = _names()
assert len(NAMES) == FEATURE_SIZE and len(set(NAMES)) == FEATURE_SIZE
assert NAMES[LEVEL_DB] == "level_db" and NAMES[TONIC_THIRD] == "tonic_third" and NAMES[DELTAS] == "delta_level_db"
assert NAMES[PASSAGE_DB] == "passage_db" and NAMES[CHROMA] == "chroma_C"
assert NAMES[DUTY_CYCLE] == "duty_cycle" and NAMES[CONTRAST] == "contrast_0"
assert NAMES[DISSONANCE] == "dissonance" and NAMES[DISSONANCE_MEAN] == "dissonance_4s"
