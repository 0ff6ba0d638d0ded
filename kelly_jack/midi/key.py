"""The key the audio is in, for generators set to ``key: auto``.

``KeyTracker.update(chroma)`` keeps an exponential average of the 12 chroma
values of each hop (time constant ``seconds``) and returns the tonic (0..11,
C = 0) of the best-correlating Krumhansl-Kessler key profile, major or minor
(a minor key's tonic: the generator's mode follows valence anyway), or None
until the chroma has some energy. It keeps the last answer unless another
key wins by a margin, so a tonic does not flap between two close keys.
Control thread (the generator runner); no allocation after construction.
"""

from __future__ import annotations

import math

import numpy as np

from ..rt.features.layout import NAMES
from ..rt.features.tables import key_profiles

CHROMA = np.array([i for i, name in enumerate(NAMES) if name.startswith("chroma_")])  # C..B, in layout order
_MARGIN = 0.05


class KeyTracker:
    def __init__(self, hop_seconds: float, seconds: float = 8.0):
        self._k = 1.0 - math.exp(-hop_seconds / seconds)
        self._mean = np.zeros(12)
        self._profiles = key_profiles()
        self._scores = np.zeros(24)
        self.tonic: int | None = None

    def reset(self) -> None:
        self._mean[:] = 0.0
        self.tonic = None

    def update(self, features: np.ndarray) -> int | None:
        """Take one hop's 128 features; return the current tonic or None."""
        chroma = np.nan_to_num(np.asarray(features, dtype=np.float64)[CHROMA], nan=0.0, posinf=0.0, neginf=0.0)
        self._mean += self._k * (np.maximum(chroma, 0.0) - self._mean)
        centred = self._mean - self._mean.mean()
        norm = float(np.sqrt(centred @ centred))
        if norm < 1e-9:
            return self.tonic
        np.dot(self._profiles, centred / norm, out=self._scores)
        best = int(np.argmax(self._scores))
        if self.tonic is None:
            self.tonic = best % 12
        else:
            held = max(self._scores[self.tonic], self._scores[self.tonic + 12])
            if self._scores[best] > held + _MARGIN * math.sqrt(12):
                self.tonic = best % 12
        return self.tonic
