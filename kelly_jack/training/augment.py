"""Timbre augmentation of a training clip before feature extraction: a random spectral tilt and one EQ band.

The corpus's instruments and soundfonts are a few dozen spectra; a model can learn
them instead of the cues. ``equalise`` reshapes a clip's spectrum with a gain curve
drawn per clip (deterministic from the augmentation seed and the clip's id):

* a tilt of up to ``tilt_db`` dB per octave around 1 kHz (limited to +-``TILT_LIMIT_DB``),
* one bell-shaped band (an octave wide) of up to +-``band_db`` dB centred between
  ``BAND_HZ`` (log-uniform),

then restores the clip's RMS level (plus at most +-``level_db``, kept small: loudness is
the dynamics cue, clips are levelled by velocity). Zero-phase, applied to the whole clip by
FFT with zero padding. Training code only; never runs on the audio thread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

TILT_LIMIT_DB = 10.0
BAND_HZ = (150.0, 6000.0)
PAD = 8192  # samples of zeros after the clip: the zero-phase filter's ringing lands there, not at the start


@dataclass(frozen=True)
class Augment:
    """Augmentation ranges (dB) and the seed of its per-clip draws."""

    tilt_db: float = 2.0  # max |tilt| in dB per octave
    band_db: float = 6.0  # max |gain| of the EQ band
    level_db: float = 0.5  # max |level change|; loudness is the dynamics cue: keep it under ~1 dB
    seed: int = 0

    def key(self) -> str:
        """A stable text naming these settings (feature cache keys, reports)."""
        return f"eq-tilt{self.tilt_db:g}-band{self.band_db:g}-level{self.level_db:g}-seed{self.seed}"


@dataclass(frozen=True)
class Draw:
    tilt: float  # dB per octave
    centre_hz: float
    band: float  # dB
    level: float  # dB


def draw(aug: Augment, clip_id: str) -> Draw:
    """The gain-curve parameters of one clip: the same for the same ``aug`` and ``clip_id``."""
    rng = np.random.default_rng([aug.seed, zlib.crc32(clip_id.encode())])
    u = rng.uniform(-1.0, 1.0, 4)
    lo, hi = np.log(BAND_HZ[0]), np.log(BAND_HZ[1])
    centre = float(np.exp(lo + (u[1] + 1.0) / 2.0 * (hi - lo)))
    return Draw(float(u[0] * aug.tilt_db), centre, float(u[2] * aug.band_db), float(u[3] * aug.level_db))


def gain_db(d: Draw, freqs: np.ndarray) -> np.ndarray:
    """The gain curve (dB) of ``d`` at ``freqs`` (Hz); 0 Hz takes the lowest bin's tilt."""
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    tilt = np.clip(d.tilt * octaves, -TILT_LIMIT_DB, TILT_LIMIT_DB)
    band = d.band * np.exp(-0.5 * (np.log2(np.maximum(freqs, 20.0) / d.centre_hz) / 0.5) ** 2)
    return tilt + band


def equalise(samples: np.ndarray, rate: int, aug: Augment, clip_id: str) -> np.ndarray:
    """``samples`` (mono) through the clip's random EQ, at its RMS level +- ``level_db``; float32, finite.

    Non-finite samples are taken as 0; silence stays silence.
    """
    x = np.nan_to_num(np.asarray(samples, dtype=np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    if not len(x):
        return x.astype(np.float32)
    rms = float(np.sqrt(np.mean(x * x)))
    if rms <= 1e-9:
        return np.zeros(len(x), dtype=np.float32)
    d = draw(aug, clip_id)
    n = len(x) + PAD
    spectrum = np.fft.rfft(x, n)
    spectrum *= 10.0 ** (gain_db(d, np.fft.rfftfreq(n, 1.0 / rate)) / 20.0)
    y = np.fft.irfft(spectrum, n)[: len(x)]
    out_rms = float(np.sqrt(np.mean(y * y)))
    if out_rms > 1e-12:
        y *= rms / out_rms * 10.0 ** (d.level / 20.0)
    return np.clip(y, -1.0, 1.0).astype(np.float32)
