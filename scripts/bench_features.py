#!/usr/bin/env python3
"""Benchmark: the 128-float feature extraction per hop, against librosa and plain numpy, in one run.

All three take the same frames of the same signal (a chord progression over
noise with clicks, 48 kHz mono, window 2048, hop from the config: 1024 by
default), one hop at a time, as a live stream needs:

* kelly: ``FeatureExtractor.compute`` (Numba kernels, rocket-fft), the call
  from Python included;
* librosa: its functions for the same features on that frame (stft, mel
  spectrogram, power_to_db, mfcc, chroma_stft (cheaper than the chroma_cqt our
  constant-Q chroma is compared with in the tests), centroid,
  flatness, contrast, rms (for rms_db), onset strength against the
  previous frame), called per frame as a streaming application would; the
  features librosa does not have (flux, crest, onset rate, tempo, tempogram
  bands, articulation, key, dissonance, deltas) are not charged to it;
* numpy: a plain numpy version of all 128 (the tests' oracle,
  ``tests/support/feature_oracle.py``: same tables, vectorised where numpy
  can), checked to agree with kelly first.

librosa over the whole file at once (its batch mode, the frames all in one
call, divided by their number) is printed too, as the throughput figure it
can reach when latency does not matter.

    .venv/bin/python scripts/bench_features.py [--hops 1500] [--config studio.yaml] [--accuracy]

``--accuracy`` also prints the largest deviation from librosa per feature
group over the test signals (tests/support/recordings.py: sines, chords, noise,
clicks, espeak-ng speech, fluidsynth piano), the figures the tolerances in
tests/test_features_librosa.py sit above (the chroma against chroma_cqt is
measured in that test itself, on held chords).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from kelly_jack.config import load_config, parse_config
from kelly_jack.rt.features import FeatureExtractor
from kelly_jack.rt.features import layout as L

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.feature_oracle import NumpyFeatures  # noqa: E402 (the tests' oracle, tests/support/feature_oracle.py)

SR = 48000


def signal(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.02 * rng.standard_normal(t.size)
    for i, root in enumerate([261.6, 220.0, 174.6, 196.0] * int(seconds)):
        lo, hi = int(i * SR), int((i + 1) * SR)
        if lo >= t.size:
            break
        for ratio in (1.0, 1.26, 1.5):
            x[lo:hi] += 0.1 * np.sin(2 * np.pi * root * ratio * t[lo:hi])
    x[:: SR // 2] += 0.8  # clicks, 120 BPM
    return x.astype(np.float32)


def librosa_per_hop(librosa, frame: np.ndarray, prev_logmel: np.ndarray) -> np.ndarray:
    """librosa's functions for the features it has, on one frame (and the previous log-mel frame)."""
    kw = {"n_fft": len(frame), "hop_length": len(frame), "center": False}
    y = frame.astype(np.float64)
    mag = np.abs(librosa.stft(y, window="hann", **kw))
    power = mag**2
    logmel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SR, n_fft=len(frame), n_mels=64))
    librosa.feature.mfcc(S=logmel, n_mfcc=20)
    librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0)
    librosa.feature.spectral_centroid(S=mag, sr=SR)
    librosa.feature.spectral_flatness(S=mag)
    librosa.feature.spectral_contrast(S=mag, sr=SR)
    librosa.feature.rms(y=y, frame_length=len(frame), **{k: kw[k] for k in ("hop_length", "center")})
    librosa.onset.onset_strength(S=np.concatenate([prev_logmel, logmel], axis=1), center=False)
    return logmel


def librosa_batch(librosa, x: np.ndarray, window: int, hop: int) -> None:
    kw = {"n_fft": window, "hop_length": hop, "center": False}
    y = x.astype(np.float64)
    mag = np.abs(librosa.stft(y, window="hann", **kw))
    power = mag**2
    logmel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SR, n_fft=window, n_mels=64))
    librosa.feature.mfcc(S=logmel, n_mfcc=20)
    librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0)
    for f in ("spectral_centroid", "spectral_contrast"):
        getattr(librosa.feature, f)(S=mag, sr=SR)
    librosa.feature.spectral_flatness(S=mag)
    librosa.feature.rms(y=y, frame_length=window, hop_length=hop, center=False)
    librosa.onset.onset_strength(S=logmel, center=False)


def timed(fn, frames, *args) -> list[float]:
    """Per-call times in microseconds of fn(frame, *args) over the frames."""
    times = []
    for f in frames:
        t0 = time.perf_counter_ns()
        fn(f, *args)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    return times


def accuracy() -> None:
    """Largest deviation from librosa per feature group over the test signals."""
    import librosa

    from support import recordings as rec

    window, hop = 2048, 1024
    worst: dict[str, float] = {}

    def note(key, value):
        worst[key] = max(worst.get(key, 0.0), float(value))

    with tempfile.TemporaryDirectory() as tmp:
        signals = [rec.sines(), rec.chords(), rec.noise(), rec.clicks(), rec.speech(Path(tmp))]
        signals.append(rec.piano_progression(Path(tmp)))
    for y in signals:
        y = y.astype(np.float32).astype(np.float64)
        fx = FeatureExtractor(SR, window, hop)
        frames = 1 + (y.size - window) // hop
        ours = np.zeros((frames, 128), dtype=np.float32)
        for j in range(frames):
            fx.compute(y[j * hop : j * hop + window].astype(np.float32), ours[j])
        mag = np.abs(librosa.stft(y, n_fft=window, hop_length=hop, window="hann", center=False))
        power = mag**2
        mel = librosa.feature.melspectrogram(S=power, sr=SR, n_fft=window, n_mels=64)
        logmel = np.stack([librosa.power_to_db(mel[:, j], top_db=80.0) for j in range(frames)], axis=1)
        unfloored = (mel > 10 ** ((logmel.max(axis=0) - 80) / 10)) & (mel > 1e-10)  # where no dB floor applies
        ours_mel = 10 ** (ours[:, :64].T.astype(np.float64) / 10)
        note("mel power (relative)", np.max(np.abs(ours_mel - mel)[unfloored] / mel[unfloored]))
        note("log-mel (dB)", np.abs(ours[:, :64].T - logmel).max())
        for j in range(frames):
            ref = librosa.feature.mfcc(S=logmel[:, j : j + 1], n_mfcc=20)[:, 0]
            note("mfcc (abs / frame norm)", np.abs(ours[j, 64:84] - ref).max() / np.linalg.norm(ref))
            c = librosa.feature.spectral_contrast(S=mag[:, j : j + 1], sr=SR, n_fft=window)[:, 0]
            note("contrast (dB)", np.abs(ours[j, L.CONTRAST : L.CONTRAST + 7] - c).max())

        def rel(got, ref, floor):
            return np.max(np.abs(got - ref) / np.maximum(np.abs(ref), floor))

        note("centroid (relative)", rel(ours[:, L.CENTROID], librosa.feature.spectral_centroid(S=mag, sr=SR)[0], 1))
        note("flatness (relative)", rel(ours[:, L.FLATNESS], librosa.feature.spectral_flatness(S=mag)[0], 1e-6))
        kw = {"frame_length": window, "hop_length": hop, "center": False}
        rms_db = 20 * np.log10(np.maximum(librosa.feature.rms(y=y, **kw)[0], 1e-5))
        note("rms_db (dB)", np.abs(ours[:, L.LEVEL_DB] - rms_db).max())
        onset = librosa.onset.onset_strength(S=logmel, center=False, lag=1, max_size=1)
        note("onset strength (dB)", np.abs(ours[:, L.ONSET_STRENGTH] - onset).max())
    print("\nlargest deviation from librosa over sines, chords, noise, clicks, speech, piano:")
    for key, value in worst.items():
        print(f"  {key:28s} {value:.3g}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hops", type=int, default=1500, help="hops timed per implementation")
    p.add_argument("--config", help="YAML configuration (analysis.window, analysis.hop)")
    p.add_argument("--accuracy", action="store_true", help="also print the largest deviations from librosa")
    args = p.parse_args()
    cfg = load_config(args.config) if args.config else parse_config("", "<defaults>")
    window, hop = cfg["analysis"]["window"], cfg["analysis"]["hop"]
    import librosa

    warnings.filterwarnings("ignore")
    hops = args.hops
    x = signal((window + hops * hop) / SR + 0.1)
    frames = [x[j * hop : j * hop + window] for j in range(hops)]

    fx = FeatureExtractor(SR, window, hop)
    ref = NumpyFeatures(SR, window, hop)
    out, out_ref = np.zeros(128, dtype=np.float32), np.zeros(128, dtype=np.float32)
    worst, worst_name = 0.0, ""
    for f in frames[:200]:  # warm-up (compiles or loads the cache) and agreement check
        fx.compute(f, out)
        ref.compute(f, out_ref)
        dev = np.abs(out - out_ref) / np.maximum(np.abs(out_ref), 1.0)
        if dev.max() > worst:
            worst, worst_name = float(dev.max()), L.NAMES[int(np.argmax(dev))]
    fx.reset()
    kelly = timed(fx.compute, frames, out)
    numpy_t = timed(NumpyFeatures(SR, window, hop).compute, frames, out_ref)
    lib_frames = frames[: max(50, hops // 5)]  # librosa is slow: fewer hops, the median is stable
    prev = np.zeros((64, 1))
    lib = []
    for f in lib_frames:
        t0 = time.perf_counter_ns()
        prev = librosa_per_hop(librosa, f, prev)
        lib.append((time.perf_counter_ns() - t0) / 1000.0)
    t0 = time.perf_counter_ns()
    librosa_batch(librosa, x, window, hop)
    batch = (time.perf_counter_ns() - t0) / 1000.0 / hops

    k = statistics.median(kelly)
    rows = [
        ("kelly (Numba, 128 features)", k, len(kelly)),
        ("numpy (128 features)", statistics.median(numpy_t), len(numpy_t)),
        ("librosa per hop (107 of the 128)", statistics.median(lib), len(lib)),
        ("librosa batch, per frame", batch, 1),
    ]
    print(
        f"feature extraction per hop: window {window}, hop {hop}, {SR} Hz; "
        f"numpy agrees with kelly to {worst:.1e} ({worst_name})"
    )
    print(f"{'':36s} {'median us':>10s} {'x kelly':>8s}  (hops)")
    for name, us, n in rows:
        print(f"{name:36s} {us:10.1f} {us / k:8.1f}  ({n})")
    print(
        f"kelly p99: {np.percentile(kelly, 99):.1f} us; goal: < 150 us per hop and >= 20x faster than librosa per hop"
    )
    if args.accuracy:
        accuracy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
