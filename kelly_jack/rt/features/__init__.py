"""The 128-float feature vector: layout, tables and the nopython kernels that compute it.

``FeatureExtractor`` (extractor.py) is the one entry point; ``layout`` names
the 128 slots (docs/features.md documents them). Modules: ``tables``
(filterbanks, built once), ``spectrum`` (window + rfft), ``mel`` (mel bands,
dB, MFCC), ``chroma`` (chroma, key), ``descriptors`` (spectral and time-domain
descriptors, contrast), ``rhythm`` (onsets, tempo), ``mono`` (mixdown).
"""

from __future__ import annotations

from .extractor import FeatureExtractor
from .layout import FEATURE_SIZE, LAYOUT_VERSION, NAMES
from .mono import mix_to_mono

__all__ = ["FEATURE_SIZE", "LAYOUT_VERSION", "NAMES", "FeatureExtractor", "mix_to_mono"]
