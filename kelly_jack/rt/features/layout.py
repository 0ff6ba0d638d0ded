"""The 128-float feature layout (version 5): names and indices.

``_names()`` writes the order of the 128 once; the index constants below are
taken from it (no hand numbering). Which group computes each slot is declared
in the group's module (``SLOTS``).
docs/features.md has the table with units, ranges and librosa equivalents;
a test holds that table and ``NAMES`` to the same order. A model records the
``LAYOUT_VERSION`` it was trained on; loading a model of another version is an
error (see ``kelly_jack.backends.base.check_layout_version``).
"""

from __future__ import annotations

LAYOUT_VERSION = 5
FEATURE_SIZE = 128

N_MELS = 64
N_MFCC = 19  # the 20th coefficient's slot holds passage_db
N_CHROMA = 12
N_CONTRAST = 7  # librosa's spectral_contrast default: 6 octave bands + the rest
N_TEMPOGRAM = 6  # log-spaced tempo bands

# the features whose short-term slope fills the last slot(s), in order (the level)
DELTA_OF_NAMES = ("level_db",)

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
    """The 128 names in slot order: the one place the order is written down."""
    names = [f"logmel_{i:02d}" for i in range(N_MELS)]
    names += [f"mfcc_{i:02d}" for i in range(N_MFCC)]
    names += ["passage_db"]
    names += [f"chroma_{c}" for c in _CHROMA_NAMES]
    names += list(_SCALARS)
    names += _tempogram_names()
    names += ["duty_cycle", "level_dip_db"]
    names += [f"contrast_{i}" for i in range(N_CONTRAST)]
    names += [f"delta_{n}" for n in DELTA_OF_NAMES]
    return tuple(names)


NAMES: tuple[str, ...] = _names()
assert len(NAMES) == FEATURE_SIZE and len(set(NAMES)) == FEATURE_SIZE


def _slot(name: str) -> int:
    return NAMES.index(name)


# one int constant per slot (or first slot of a run), taken from NAMES: the kernels index ``vec`` with
# them and Numba freezes them as compile-time constants
MEL = _slot("logmel_00")  # 0..63
MFCC = _slot("mfcc_00")  # 64..82
PASSAGE_DB = _slot("passage_db")  # the last 0.5 s against the level reference
CHROMA = _slot("chroma_C")  # 84..95
LEVEL_DB = _slot("level_db")  # relative to the level reference
CENTROID = _slot("centroid_hz")
FLATNESS = _slot("flatness")
FLUX = _slot("flux")
CREST_DB = _slot("crest_db")
ONSET_STRENGTH = _slot("onset_strength")
ONSET_RATE = _slot("onset_rate")
TEMPO = _slot("tempo_bpm")
TEMPO_DOUBLE = _slot("tempo_double")
KEY_CLARITY = _slot("key_clarity")
MAJOR_STRENGTH = _slot("major_strength")
MINOR_STRENGTH = _slot("minor_strength")
KEY_MODE = _slot("key_mode")
TONIC_THIRD = _slot("tonic_third")
DISSONANCE = _slot("dissonance")  # interval-class dissonance of this hop's chroma
DISSONANCE_MEAN = _slot("dissonance_4s")  # its mean over consonance.SPAN_S
TEMPOGRAM = _slot(_tempogram_names()[0])  # 112..117
DUTY_CYCLE = _slot("duty_cycle")
LEVEL_DIP_DB = _slot("level_dip_db")
CONTRAST = _slot("contrast_0")  # 120..126
DELTAS = _slot(f"delta_{DELTA_OF_NAMES[0]}")  # 127
DELTA_OF = tuple(_slot(n) for n in DELTA_OF_NAMES)
