"""The one place where training and evaluation compute features.

``clip_features`` runs the package's live extractor (``kelly_jack.rt.features``)
over a clip with the live path's window and hop (the config defaults,
``analysis.window`` / ``analysis.hop``) at ``ANALYSIS_RATE``. When the extractor
changes (a new layout), this module is the only one to repoint; the layout
version recorded in a model comes from ``layout_version()``, i.e. from the
extractor module's ``LAYOUT_VERSION``. A streaming extractor (state carried
from hop to hop) must start each clip from reset state here, since clips are
independent; frames are produced in time order for that reason.
"""

from __future__ import annotations

import numpy as np

from ..config import SCHEMA
from ..rt import features as extractor
from ..rt.features import FeatureExtractor

# The rate the model is trained at; the live path resamples to it (DESIGN.md, Features).
ANALYSIS_RATE = 48000
WINDOW = int(SCHEMA["analysis"]["window"].default)  # frames at ANALYSIS_RATE
HOP = int(SCHEMA["analysis"]["hop"].default)
FEATURES = extractor.FEATURE_SIZE


def layout_version() -> int:
    """The feature layout version of the extractor ``clip_features`` uses."""
    return int(extractor.LAYOUT_VERSION)


def frame_count(n: int) -> int:
    """Feature frames in a clip of ``n`` samples: complete windows every HOP, the first ending at WINDOW."""
    return 0 if n < WINDOW else 1 + (n - WINDOW) // HOP


def clip_features(samples: np.ndarray, rate: int) -> np.ndarray:
    """Feature frames of a mono clip: float32 ``(frame_count, 128)``, one row per hop, in time order.

    ``samples`` are floats (nominally -1..1) at ``rate`` Hz; another rate than
    ``ANALYSIS_RATE`` is resampled first (soxr, as ``kelly-jack features`` does). Windows are taken
    the way the live inference thread takes them (length WINDOW, every HOP
    samples). Non-finite samples give finite features (the extractor's contract).
    """
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != ANALYSIS_RATE:
        x = resample(x, rate, ANALYSIS_RATE)
    frames = frame_count(len(x))
    out = np.zeros((frames, FEATURES), dtype=np.float32)
    row = np.zeros(FEATURES, dtype=np.float32)
    fx = FeatureExtractor(ANALYSIS_RATE, WINDOW, HOP)  # fresh streaming state: clips are independent
    for k in range(frames):
        fx.compute(x[k * HOP : k * HOP + WINDOW], row)
        out[k] = row
    return out


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """A whole clip resampled from ``rate`` to ``target`` Hz with soxr (HQ); non-finite samples become 0."""
    import soxr

    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return soxr.resample(x, rate, target, quality="HQ").astype(np.float32)
