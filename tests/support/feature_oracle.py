"""The test oracle: the 128 features in plain numpy, written apart from the Numba kernels.

``NumpyFeatures(sample_rate, window, hop).compute(frame, out)`` streams the
same 128 features as ``kelly_jack.rt.features.FeatureExtractor`` (the same
tables, read from an extractor's ``arrays``; vectorised where numpy can,
``np.roll`` rings instead of index arithmetic), so a change to a kernel that
is not also made here shows as a difference. ``tests/test_features_oracle.py``
holds the extractor to it; ``scripts/bench_features.py`` imports it to time
plain numpy beside the kernels.
"""

from __future__ import annotations

import numpy as np

from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor, tables
from kelly_jack.rt.features import layout as L
from kelly_jack.rt.features import level as LV
from kelly_jack.rt.features.chroma import KEY_S
from kelly_jack.rt.features.delta import DELTA_WIDTH
from kelly_jack.rt.features.rhythm import ONSET_COMPRESS_DB, ONSET_RATE_S, TEMPO_S


def _ac(x: np.ndarray, lag: int, energy: float) -> float:
    """The autocorrelation of zero-mean ``x`` (``energy`` = mean of x^2) at ``lag``, as kelly's rhythm kernels
    normalise it; 0 off lags 1..len-2."""
    return (x[lag:] * x[:-lag]).sum() / ((len(x) - lag) * energy) if 0 < lag < len(x) - 1 else 0.0


class NumpyFeatures:
    """The same 128 features in plain numpy, one hop per ``compute`` call, as ``FeatureExtractor``."""

    def __init__(self, sample_rate: float, window: int, hop: int):
        fx = FeatureExtractor(sample_rate, window, hop)  # its tables (the oracle checks the kernels, not them)
        a = fx.arrays
        self.n = window
        self.w = a["spectrum"]["window"]
        self.freqs = a["descriptors"]["freqs"]
        self.mel = tables.mel_filterbank(sample_rate, window, L.N_MELS)
        self.dct = a["mel"]["dct_matrix"]
        self.cq_fir, self.cq_factor = a["cqchroma"]["cq_fir"], fx.cq_factor
        self.cq_window = a["cqchroma"]["cq_window"]
        start, stop, weights, self.cq_class = (
            a["cqchroma"][k] for k in ("cq_start", "cq_stop", "cq_weights", "cq_class")
        )
        self.cq_bank = np.zeros((len(start), len(a["cqchroma"]["cq_power"])))
        for b in range(len(start)):
            self.cq_bank[b, start[b] : stop[b]] = weights[b, : stop[b] - start[b]]
        self.cq_fold = np.zeros((12, len(start)))
        self.cq_fold[self.cq_class, np.arange(len(start))] = 1.0
        self.hop = hop
        self.tail = np.zeros(len(self.cq_fir) - 1)  # the FIR's input history (zeros before the start)
        self.dec = np.zeros(len(self.cq_window))  # the newest samples of the decimated stream
        self.total = 0  # samples of the stream since the start
        self.bands = a["descriptors"]["bands"]
        self.profiles = a["chroma"]["profiles"]
        self.lags = a["rhythm"]["lags"]
        self.periods, self.grid_prior = a["rhythm"]["periods"], a["rhythm"]["grid_prior"]
        self.diss = np.zeros(len(a["consonance"]["diss_ring"]))  # past dissonance values
        self.fps = fx.rhythm_fps
        self.band_lo, self.band_hi = a["rhythm"]["band_lo"], a["rhythm"]["band_hi"]
        self.levels = np.zeros(len(a["articulation"]["level_ring"]))  # articulation: past levels, then past dips
        self.dips = np.zeros(len(a["articulation"]["dip_ring"]))
        self.onset = np.zeros(len(a["rhythm"]["onset_ring"]))
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
