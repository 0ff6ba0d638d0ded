"""The 128-float feature layout (version 2): names and indices.

docs/features.md has the table with units, ranges and librosa equivalents;
a test holds that table and ``NAMES`` to the same order. A model records the
``LAYOUT_VERSION`` it was trained on; loading a model of another version is an
error (see ``kelly_jack.backends.base.check_layout_version``).
"""

from __future__ import annotations

LAYOUT_VERSION = 2
FEATURE_SIZE = 128

N_MELS = 64
N_MFCC = 20
N_CHROMA = 12
N_CONTRAST = 7  # librosa's spectral_contrast default: 6 octave bands + the rest

MEL = 0
MFCC = MEL + N_MELS  # 64
CHROMA = MFCC + N_MFCC  # 84
DESCRIPTORS = CHROMA + N_CHROMA  # 96

RMS = 96
RMS_DB = 97
ZCR = 98
CENTROID = 99
BANDWIDTH = 100
ROLLOFF = 101
FLATNESS = 102
FLUX = 103
CREST_DB = 104
HFC_DB = 105
ONSET_STRENGTH = 106
ONSET_RATE = 107
TEMPO = 108
KEY_CLARITY = 109
MAJOR_STRENGTH = 110
MINOR_STRENGTH = 111
KEY_MODE = 112
TONIC_THIRD = 113
TEMPO_DOUBLE = 114
CONTRAST = 115  # 115..121
DELTAS = CONTRAST + N_CONTRAST  # 122..127

# the features whose short-term slope fills the last 6 slots, in order
DELTA_OF = (RMS_DB, CENTROID, BANDWIDTH, ROLLOFF, HFC_DB, MFCC + 0)

_CHROMA_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
_SCALARS = (
    "rms",
    "rms_db",
    "zcr",
    "centroid_hz",
    "bandwidth_hz",
    "rolloff_hz",
    "flatness",
    "flux",
    "crest_db",
    "hfc_db",
    "onset_strength",
    "onset_rate",
    "tempo_bpm",
    "key_clarity",
    "major_strength",
    "minor_strength",
    "key_mode",
    "tonic_third",
    "tempo_double",
)


def _names() -> tuple[str, ...]:
    names = [f"logmel_{i:02d}" for i in range(N_MELS)]
    names += [f"mfcc_{i:02d}" for i in range(N_MFCC)]
    names += [f"chroma_{c}" for c in _CHROMA_NAMES]
    names += list(_SCALARS)
    names += [f"contrast_{i}" for i in range(N_CONTRAST)]
    base = {i: n for i, n in enumerate(names)}
    names += [f"delta_{base[i]}" for i in DELTA_OF]
    return tuple(names)


NAMES: tuple[str, ...] = _names()
assert len(NAMES) == FEATURE_SIZE and len(set(NAMES)) == FEATURE_SIZE
assert NAMES[RMS] == "rms" and NAMES[MINOR_STRENGTH] == "minor_strength" and NAMES[DELTAS] == "delta_rms_db"
