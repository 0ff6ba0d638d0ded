"""Production of an arranged clip after fluidsynth: compression, EQ tilt, a noise floor, a random level, a limiter.

``apply`` runs, in this order, on the mono float clip:

1. a compressor (feed-forward, RMS detector over 5 ms blocks, attack 10 ms, release 150 ms): above a
   threshold of ``comp_threshold_db`` relative to the clip's RMS (-12 .. 0 dB) the level is divided
   by ``comp_ratio`` (1 = off .. 6),
2. an EQ tilt of ``tilt_db`` dB per octave around 1 kHz (-2 .. +2, limited to +-10 dB; the
   tilt curve of ``augment.gain_db``, zero-phase by FFT),
3. a noise floor: pink noise whose RMS is ``noise_db`` below the clip's (35 .. 75 dB),
4. a gain that sets the clip's RMS (the whole clip) to ``rms_db`` dBFS, drawn uniformly in RMS_DB
   (-45 .. -10): absolute level carries no label,
5. a peak limiter (gain reduction from the 2.5 ms windowed peak, 40 ms release, then a hard clip at
   PEAK_LIMIT), so a loud draw stays unclipped; it lowers the RMS of peaky clips by up to a few dB.

Units: dB and dBFS (1.0 full scale), seconds. Training code only; never runs on the audio thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import Draw, gain_db

RMS_DB = (-45.0, -10.0)  # clip RMS, dBFS, uniform
COMP_RATIO = (1.0, 6.0)  # uniform; a third of the clips uncompressed (ratio 1)
COMP_THRESHOLD_DB = (-12.0, 0.0)  # relative to the clip's RMS
TILT_DB = (-2.0, 2.0)  # dB per octave around 1 kHz
NOISE_DB = (35.0, 75.0)  # noise floor below the clip's RMS
PEAK_LIMIT = 0.98
BLOCK_SECONDS = 0.005
ATTACK_SECONDS, RELEASE_SECONDS = 0.010, 0.150
LIMIT_WINDOW_SECONDS, LIMIT_RELEASE_SECONDS = 0.0025, 0.040
PAD = 8192  # zeros after the clip for the EQ's FFT (its ringing lands there)


@dataclass(frozen=True)
class Production:
    """One clip's post-processing (see the module doc for ranges and order)."""

    rms_db: float  # target RMS of the whole clip, dBFS
    comp_ratio: float  # 1 = no compression
    comp_threshold_db: float  # relative to the clip's RMS
    tilt_db: float  # dB per octave around 1 kHz
    noise_db: float  # noise floor RMS below the clip's RMS, dB
    noise_seed: int


def draw(rng: np.random.Generator) -> Production:
    """Production settings drawn uniformly from the ranges above (a third of the clips uncompressed)."""
    ratio = 1.0 if rng.integers(3) == 0 else round(float(rng.uniform(*COMP_RATIO)), 2)
    return Production(
        rms_db=round(float(rng.uniform(*RMS_DB)), 2),
        comp_ratio=ratio,
        comp_threshold_db=round(float(rng.uniform(*COMP_THRESHOLD_DB)), 2),
        tilt_db=round(float(rng.uniform(*TILT_DB)), 2),
        noise_db=round(float(rng.uniform(*NOISE_DB)), 2),
        noise_seed=int(rng.integers(2**31)),
    )


def rms(x: np.ndarray) -> float:
    """RMS of ``x`` (full scale 1.0), 0 for an empty array."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def compress(x: np.ndarray, rate: int, ratio: float, threshold_db: float) -> np.ndarray:
    """``x`` through the compressor (threshold relative to its RMS); unchanged at ratio 1 or in silence."""
    level = rms(x)
    if ratio <= 1.0 or level <= 1e-9:
        return x
    block = max(1, int(round(BLOCK_SECONDS * rate)))
    n_blocks = -(-len(x) // block)
    padded = np.pad(x, (0, n_blocks * block - len(x)))
    env_db = 10.0 * np.log10(np.mean(padded.reshape(n_blocks, block) ** 2, axis=1) + 1e-20)
    thr = 20.0 * np.log10(level) + threshold_db
    want = np.minimum(0.0, (thr - env_db) * (1.0 - 1.0 / ratio))  # gain in dB per block
    a_att = np.exp(-BLOCK_SECONDS / ATTACK_SECONDS)
    a_rel = np.exp(-BLOCK_SECONDS / RELEASE_SECONDS)
    g = np.empty(n_blocks)
    state = 0.0
    for i, w in enumerate(want):  # the gain falls with the attack time, recovers with the release
        a = a_att if w < state else a_rel
        state = a * state + (1.0 - a) * w
        g[i] = state
    centres = (np.arange(n_blocks) + 0.5) * block
    gain = 10.0 ** (np.interp(np.arange(len(x)), centres, g) / 20.0)
    return x * gain


def tilt(x: np.ndarray, rate: int, db_per_octave: float) -> np.ndarray:
    """``x`` with a spectral tilt of ``db_per_octave`` around 1 kHz (``augment.gain_db`` without its band)."""
    if not len(x) or db_per_octave == 0.0:
        return x
    n = len(x) + PAD
    spectrum = np.fft.rfft(x, n)
    spectrum *= 10.0 ** (gain_db(Draw(db_per_octave, 1000.0, 0.0, 0.0), np.fft.rfftfreq(n, 1.0 / rate)) / 20.0)
    return np.fft.irfft(spectrum, n)[: len(x)]


def pink_noise(n: int, seed: int) -> np.ndarray:
    """``n`` samples of pink (1/f power) noise at RMS 1."""
    if n == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    spectrum /= np.sqrt(np.maximum(f, 1.0))
    y = np.fft.irfft(spectrum, n)
    return y / max(rms(y), 1e-20)


def limit(x: np.ndarray, rate: int, ceiling: float = PEAK_LIMIT) -> np.ndarray:
    """``x`` with its peaks held at ``ceiling`` (see the module doc); unchanged when it stays below."""
    peak = np.abs(x)
    if not len(x) or peak.max() <= ceiling:
        return x
    w = max(1, int(round(LIMIT_WINDOW_SECONDS * rate)))
    n_blocks = -(-len(x) // w)
    block_peak = np.pad(peak, (0, n_blocks * w - len(x))).reshape(n_blocks, w).max(axis=1)
    # each block also sees its neighbours' peaks, so the gain is down before a peak arrives
    near = np.maximum(block_peak, np.maximum(np.r_[block_peak[1:], 0.0], np.r_[0.0, block_peak[:-1]]))
    want = np.minimum(1.0, ceiling / np.maximum(near, 1e-20))
    a_rel = np.exp(-LIMIT_WINDOW_SECONDS / LIMIT_RELEASE_SECONDS)
    g = np.empty(n_blocks)
    state = 1.0
    for i, v in enumerate(want):  # instant attack, exponential release
        state = v if v < state else a_rel * state + (1.0 - a_rel) * v
        g[i] = state
    gain = np.interp(np.arange(len(x)), (np.arange(n_blocks) + 0.5) * w, g)
    return np.clip(x * gain, -ceiling, ceiling)


def apply(audio: np.ndarray, rate: int, p: Production) -> np.ndarray:
    """``audio`` (mono) through the chain of the module doc, float32; silence stays silence."""
    x = np.nan_to_num(np.asarray(audio, dtype=np.float64).reshape(-1))
    if rms(x) <= 1e-9:
        return np.zeros(len(x), dtype=np.float32)
    x = compress(x, rate, p.comp_ratio, p.comp_threshold_db)
    x = tilt(x, rate, p.tilt_db)
    x = x + pink_noise(len(x), p.noise_seed) * rms(x) * 10.0 ** (-p.noise_db / 20.0)
    x = x * (10.0 ** (p.rms_db / 20.0) / rms(x))
    return limit(x, rate).astype(np.float32)
