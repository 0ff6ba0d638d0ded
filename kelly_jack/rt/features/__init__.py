"""The 128-float feature vector: layout, tables and the nopython kernels that compute it.

``FeatureExtractor`` (extractor.py) is the one entry point; ``layout`` names
the 128 slots (docs/features.md documents them). Each feature group is a
module declaring its slots, arrays and kernel (``group.py``): ``spectrum``
(window + rfft), ``level`` (the level reference), ``mel`` (mel bands, dB,
MFCC), ``cqchroma`` (constant-Q chroma), ``descriptors`` (spectral and
time-domain descriptors, contrast), ``rhythm`` (onsets, tempo, tempogram),
``articulation``, ``consonance`` (dissonance), ``chroma`` (key), ``delta``.
Also ``tables`` (filterbanks, built once) and ``mono`` (mixdown).
"""

from __future__ import annotations

from .extractor import FeatureExtractor
from .layout import FEATURE_SIZE, LAYOUT_VERSION, NAMES
from .mono import mix_to_mono

__all__ = ["FEATURE_SIZE", "LAYOUT_VERSION", "NAMES", "FeatureExtractor", "mix_to_mono"]
