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
* numpy: a plain numpy version of all 128 (this script's ``NumpyFeatures``,
  same tables, vectorised where numpy can), checked to agree with kelly first.

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
from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor, tables
from kelly_jack.rt.features import layout as L
from kelly_jack.rt.features import level as LV
from kelly_jack.rt.features.extractor import DELTA_WIDTH, KEY_S, ONSET_COMPRESS_DB, ONSET_RATE_S, TEMPO_S

ROOT = Path(__file__).resolve().parent.parent
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


def _ac(x: np.ndarray, lag: int, energy: float) -> float:
    """The autocorrelation of zero-mean ``x`` (``energy`` = mean of x^2) at ``lag``, as kelly's rhythm kernels
    normalise it; 0 off lags 1..len-2."""
    return (x[lag:] * x[:-lag]).sum() / ((len(x) - lag) * energy) if 0 < lag < len(x) - 1 else 0.0


class NumpyFeatures:
    """The same 128 features in plain numpy (the reference the Numba kernels are measured against)."""

    def __init__(self, sample_rate: float, window: int, hop: int):
        fx = FeatureExtractor(sample_rate, window, hop)
        self.n = window
        self.w = fx._window
        self.freqs = fx._freqs
        self.mel = tables.mel_filterbank(sample_rate, window, L.N_MELS)
        self.dct = fx._dct
        self.cq_fir, self.cq_factor = fx._cq_fir, fx.cq_factor
        self.cq_window = fx._cq_window
        start, stop, weights, self.cq_class = fx._cq_bank
        self.cq_bank = np.zeros((len(start), len(fx._cq_power)))
        for b in range(len(start)):
            self.cq_bank[b, start[b] : stop[b]] = weights[b, : stop[b] - start[b]]
        self.cq_fold = np.zeros((12, len(start)))
        self.cq_fold[self.cq_class, np.arange(len(start))] = 1.0
        self.hop = hop
        self.tail = np.zeros(len(self.cq_fir) - 1)  # the FIR's input history (zeros before the start)
        self.dec = np.zeros(len(self.cq_window))  # the newest samples of the decimated stream
        self.total = 0  # samples of the stream since the start
        self.bands = fx._bands
        self.profiles = fx._profiles
        self.lags = fx._lags
        self.periods, self.grid_prior = fx._periods, fx._grid_prior
        self.diss = np.zeros(len(fx._diss_ring))  # past dissonance values
        self.fps = fx.rhythm_fps
        self.band_lo, self.band_hi = fx._band_lo, fx._band_hi
        self.levels = np.zeros(len(fx._level_ring))  # articulation: past levels, then past dips
        self.dips = np.zeros(len(fx._dip_ring))
        self.onset = np.zeros(len(fx._onset_ring))
        self.rate_span = int(round(ONSET_RATE_S * self.fps))
        self.chroma_hist = np.zeros((max(1, int(round(KEY_S * fx.fps))), 12))
        self.delta = np.zeros((DELTA_WIDTH, len(L.DELTA_OF)))
        self.prev_logmel = np.zeros(L.N_MELS)
        self.prev_unit = np.zeros(window // 2 + 1)
        self.seen = 0
        self.reference = None  # the level reference (dBFS) once a hop passed the gate
        self.passage = 0.0  # the last 0.5 s's mean square
        self.follow = [LV.follower_coefficient(t, fx.fps) for t in (LV.ATTACK_S, LV.RELEASE_S, LV.PASSAGE_S)]
        assert TEMPO_S >= ONSET_RATE_S

    def level_gain(self, ms: float) -> float:
        """Update the level reference with this hop's mean square; the gain that puts it at the target."""
        attack, release, passage = self.follow
        db = 10 * np.log10(ms) if ms > 0 else -400.0
        if db > LV.ABS_GATE_DB:
            if self.reference is None:
                self.reference, self.passage = db, ms
            elif db > self.reference + LV.REL_GATE_DB:
                self.reference += (attack if db > self.reference else release) * (db - self.reference)
                self.reference = max(self.reference, db - LV.HEADROOM_DB)
        if self.reference is None:
            return 1.0
        self.passage += passage * (ms - self.passage)
        return 10 ** ((LV.TARGET_DB - self.reference) / 20)

    def passage_db(self) -> float:
        if self.reference is None:
            return 0.0
        lo = 10 ** ((self.reference - LV.PASSAGE_RANGE_DB) / 10)
        return -LV.PASSAGE_RANGE_DB if self.passage <= lo else min(10 * np.log10(self.passage) - self.reference, 40.0)

    @staticmethod
    def db(x, top_db=80.0):
        d = 10 * np.log10(np.maximum(1e-10, x))
        return np.maximum(d, d.max() - top_db)

    def top_lag(self, x: np.ndarray) -> int:
        """The longest lag of zero-mean ``x`` with an autocorrelation, 0 when ``x`` is too short or flat (as kelly)."""
        if len(x) >= 2 * self.lags[0] + 2 and (x * x).sum() > 1e-12 * len(x):
            return min(2 * int(self.lags[-1]) + 1, len(x) - 2)
        return 0

    def compute(self, x: np.ndarray, out: np.ndarray) -> int:
        x = x.astype(np.float64)
        bad = np.count_nonzero(~np.isfinite(x))
        x[~np.isfinite(x)] = 0.0
        rms = np.sqrt(np.cumsum(x * x)[-1] / len(x))  # summed in order, as kelly's loop (the gain scales all)
        x *= self.level_gain(rms * rms)
        v = np.zeros(FEATURE_SIZE)
        spec = np.fft.rfft(x * self.w)
        power = spec.real**2 + spec.imag**2
        mag = np.sqrt(power)
        logmel = self.db(self.mel @ power)
        v[:64] = logmel
        v[L.MFCC : L.MFCC + L.N_MFCC] = self.dct @ logmel
        v[L.PASSAGE_DB] = self.passage_db()
        new = (
            x
            if not self.seen
            else x[len(x) - min(len(x), round(self.seen * self.hop) - round((self.seen - 1) * self.hop)) :]
        )
        # decimated stream: the FIR's output after every cq_factor-th sample of the stream
        # the FIR reads inputs still in this window from the window (at this hop's level gain), as kelly does
        before = len(x) - len(new)
        buf = x[before - len(self.tail) :] if before >= len(self.tail) else np.concatenate([self.tail, new])
        lowpassed = np.convolve(buf, self.cq_fir, mode="valid")  # one output per new sample
        idx = np.arange(self.total, self.total + len(new))
        self.dec = np.concatenate([self.dec, lowpassed[(idx + 1) % self.cq_factor == 0]])[-len(self.cq_window) :]
        self.tail = buf[len(buf) - len(self.tail) :]
        self.total += len(new)
        cq = np.abs(np.fft.rfft(self.dec * self.cq_window)) ** 2
        c = self.cq_fold @ np.sqrt(self.cq_bank @ cq)
        v[84:96] = c / c.max() if c.max() >= 1e-150 else 0.0
        rms = np.sqrt(np.mean(x * x))
        total = mag.sum()
        norm = mag / total if total > 0 else mag
        centroid = (self.freqs * norm).sum()
        p = np.maximum(1e-10, power)
        unit = mag / np.sqrt(power.sum()) if power.sum() > 0 else mag
        v[L.LEVEL_DB] = 20 * np.log10(max(rms, 1e-5)) - LV.TARGET_DB
        v[L.CENTROID] = centroid
        v[L.FLATNESS] = np.exp(np.log(p).mean()) / p.mean()
        v[L.FLUX] = np.linalg.norm(unit - self.prev_unit) if self.seen else 0.0
        v[L.CREST_DB] = 20 * np.log10(np.abs(x).max() / rms) if rms > 1e-10 else 0.0
        peaks, valleys = [], []
        for lo, hi, q in self.bands:
            s = np.sort(mag[lo:hi])
            valleys.append(s[:q].mean())
            peaks.append(s[-q:].mean())
        v[L.CONTRAST : L.CONTRAST + 7] = self.db(np.array(peaks)) - self.db(np.array(valleys))
        onset = np.maximum(0, logmel - self.prev_logmel).mean() if self.seen else 0.0
        v[L.ONSET_STRENGTH] = onset
        self.onset = np.roll(self.onset, -1)
        self.onset[-1] = onset
        env = self.onset[-min(self.seen + 1, len(self.onset)) :]
        recent = env[-self.rate_span :]
        thr = max(recent.mean() + recent.std(), 1e-6)
        mid = recent[1:-1]
        v[L.ONSET_RATE] = (
            np.count_nonzero((mid > thr) & (mid > recent[:-2]) & (mid >= recent[2:])) * self.fps / len(recent)
        )
        e = np.log1p(np.maximum(env, 0.0) / ONSET_COMPRESS_DB)  # the tempo reads the compressed onsets
        e = e - e.mean()
        top = self.top_lag(e)
        if top:
            lo, energy = int(self.lags[0]), (e * e).mean()
            full = np.array([_ac(e, g, energy) for g in range(lo, top + 2)])

            def at(period):  # the autocorrelation at a fractional period, linearly interpolated
                i = int(period)
                if i < lo or i > top:
                    return 0.0
                return full[i - lo] if i + 1 > top else np.interp(period, [i, i + 1], full[i - lo : i - lo + 2])

            score = np.zeros(len(self.periods))
            for j, p in enumerate(self.periods):
                if lo <= p <= top:
                    score[j] = self.grid_prior[j] * (0.5 * (at(p) + at(2 * p)) if 2 * p + 1 <= top else at(p))
            if score.max() > 0:
                b = int(np.argmax(score))
                period = self.periods[b]
                if 0 < b < len(score) - 1 and score[b - 1] > 0 and score[b + 1] > 0:
                    a, m, c = score[b - 1 : b + 2]
                    if a - 2 * m + c < 0:
                        step = np.clip(0.5 * (a - c) / (a - 2 * m + c), -0.5, 0.5)
                        period *= (self.periods[b + int(np.sign(step))] / period) ** abs(step)
                v[L.TEMPO] = 60 * self.fps / period
                here = at(period)
                if here > 1e-9:
                    i, f = int(period / 2), period / 2 - int(period / 2)
                    v[L.TEMPO_DOUBLE] = np.clip((_ac(e, i, energy) * (1 - f) + _ac(e, i + 1, energy) * f) / here, -1, 1)
        raw = env - env.mean()  # the tempogram reads the raw onsets' autocorrelation
        top = self.top_lag(raw)
        if top:
            energy = (raw * raw).mean()
            for k, (lo, hi) in enumerate(zip(self.band_lo, self.band_hi, strict=True)):
                lags = range(max(lo, self.lags[0]), min(hi, top) + 1)
                v[L.TEMPOGRAM + k] = np.clip(max(_ac(raw, g, energy) for g in lags), -1, 1) if len(lags) else 0.0
        level = v[L.LEVEL_DB] if v[L.LEVEL_DB] > -80 else -80.0
        self.levels = np.roll(self.levels, -1)
        self.levels[-1] = level
        peak = self.levels[-min(self.seen + 1, len(self.levels)) :].max()
        self.dips = np.roll(self.dips, -1)
        self.dips[-1] = -40.0 if level <= -80 else max(-40.0, level - peak)
        dips = self.dips[-min(self.seen + 1, len(self.dips)) :]
        v[L.DUTY_CYCLE], v[L.LEVEL_DIP_DB] = np.mean(dips > -10.0), dips.mean()
        sq = v[84:96] ** 2
        pairs = np.array([(sq * np.roll(sq, -k)).sum() * (0.5 if k == 6 else 1.0) for k in range(1, 7)])
        d = pairs[[0, 1, 5]].sum() / pairs.sum() if pairs.sum() > 1e-9 else 0.0
        self.diss = np.roll(self.diss, -1)
        self.diss[-1] = d
        v[L.DISSONANCE], v[L.DISSONANCE_MEAN] = d, self.diss[-min(self.seen + 1, len(self.diss)) :].mean()
        self.chroma_hist = np.roll(self.chroma_hist, -1, axis=0)
        self.chroma_hist[-1] = v[84:96]
        mean = self.chroma_hist[-min(self.seen + 1, len(self.chroma_hist)) :].mean(axis=0)
        if mean.std() > 1e-9:
            r = self.profiles @ ((mean - mean.mean()) / mean.std()) / 12
            v[L.KEY_CLARITY], v[L.MAJOR_STRENGTH], v[L.MINOR_STRENGTH] = r.max(), r[:12].max(), r[12:].max()
            tonic = int(np.argmax(r)) % 12
            v[L.KEY_MODE] = r[tonic] - r[12 + tonic]
            third = mean[(tonic + 4) % 12] + mean[(tonic + 3) % 12]
            v[L.TONIC_THIRD] = (mean[(tonic + 4) % 12] - mean[(tonic + 3) % 12]) / third if third > 1e-9 else 0.0
        cur = v[list(L.DELTA_OF)]
        self.delta = np.roll(self.delta, -1, axis=0) if self.seen else np.tile(cur, (DELTA_WIDTH, 1))
        self.delta[-1] = cur
        v[L.DELTAS :] = (2 * (self.delta[4] - self.delta[0]) + self.delta[3] - self.delta[1]) / 10
        self.prev_logmel, self.prev_unit = logmel, unit
        self.seen += 1
        out[:] = np.where(np.isfinite(v), v, 0.0)
        return bad


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
    sys.path.insert(0, str(ROOT / "tests"))
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
