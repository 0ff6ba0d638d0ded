"""``FeatureExtractor``: the 128 features of one analysis window, with streaming state.

One extractor per stream. Construction builds the tables (numpy, not
real-time); ``compute`` then runs one nopython kernel over preallocated arrays
(no allocation, GIL released) and may run on the inference thread. The live
inference thread, ``kelly-jack features`` and training scripts all use this
class: there is no second implementation.

Streaming state: the level reference (``level``: every feature is computed
on the window scaled to it, so none depends on the input gain), the previous
log-mel frame (onset strength), the previous unit magnitude spectrum (flux), the stream decimated to about 6 kHz (the
constant-Q chroma's long window, ``cqchroma``), a ring of past onset strengths
(onset rate over ``ONSET_RATE_S``, tempo over ``TEMPO_S``), a ring of past chroma frames
(key over ``KEY_S``), rings of past levels and their dips below the recent
peak (articulation over ``articulation.SPAN_S``), a ring of past dissonance values
(``consonance.SPAN_S``) and the last 5 values of the delta'd feature. It assumes
consecutive calls are ``hop`` samples apart; ``reset()`` forgets it (after a
gap in the audio, or between files).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import layout as L
from . import tables
from .articulation import PEAK_S, SPAN_S, articulation
from .chroma import key_strengths, push_chroma
from .consonance import SPAN_S as DISSONANCE_S
from .consonance import dissonance
from .cqchroma import CQ_ISTATE, cq_chroma, push_samples
from .descriptors import contrast, flux, spectral_shape, time_stats
from .level import ATTACK_S, LEVEL_STATE, PASSAGE_S, RELEASE_S, TARGET_DB, follower_coefficient, level_reference
from .level import GAIN as LEVEL_GAIN
from .level import passage_db as passage_level
from .mel import dct, mel_bands, power_to_db
from .rhythm import autocorrelation, compress, onset_rate, onset_strength, tempo, tempogram, unroll
from .spectrum import load_window, spectrum

ONSET_RATE_S = 3.0
TEMPO_S = 6.0
KEY_S = 8.0
TOP_DB = 80.0
AMIN = 1e-10
DELTA_WIDTH = 5  # librosa.feature.delta's default width, made causal (it lags 2 hops)

RHYTHM_FPS_MAX = 100.0
ONSET_COMPRESS_DB = 0.3  # the tempo's onset compression scale (rhythm.compress)

# indices of the int state
_SEEN = 0  # frames since reset
_RHYTHM_FRAMES = 1  # values written into the onset ring since reset
# indices of the float state
_PEAK = 0  # the onset strength's maximum in the current rhythm frame
_RATE = 1  # the last onset rate and tempo (updated once per rhythm frame)
_TEMPO = 2
_DOUBLE = 3  # the tempo's double-time ratio
_TEMPOGRAM = 4  # 4 .. 4 + N_TEMPOGRAM: the last tempogram


@numba.njit(nogil=True, cache=True)
def extract(
    x,
    out,
    window,
    freqs,
    mel_start,
    mel_stop,
    mel_weights,
    dct_matrix,
    cq_fir,
    cq_window,
    cq_start,
    cq_stop,
    cq_weights,
    cq_class,
    bands,
    profiles,
    lags,
    periods,
    grid_prior,
    band_lo,
    band_hi,
    params,
    frame,
    windowed,
    spec,
    axes,
    mag,
    power,
    cq_windowed,
    cq_spec,
    cq_power,
    vec,
    scratch,
    prev_logmel,
    prev_unit,
    onset_ring,
    cq_tail,
    cq_ring,
    cq_istate,
    chroma_ring,
    chroma_sum,
    level_ring,
    dip_ring,
    diss_ring,
    delta_ring,
    level_state,
    fstate,
    istate,
):
    """All 128 features of ``x`` into ``out`` (float32); return the count of non-finite input samples.

    ``params`` = (rhythm frames per second, onset-rate span in rhythm frames,
    hops per rhythm frame, hop in samples, decimation factor, articulation
    peak span in hops, the level reference's attack, release and passage
    coefficients). ``vec`` (float64, >= 128) holds the features before
    the float32 store; ``scratch`` rows are work space. The arguments from
    ``prev_logmel`` on are the streaming state.
    """
    rhythm_fps = params[0]
    rate_span = int(params[1])
    stride = int(params[2])
    seen = istate[_SEEN]

    bad = load_window(x, frame)
    rms, peak = time_stats(frame)
    # the analysis hears the frame at the level reference's gain: no feature depends on the input level
    gain = level_reference(rms * rms, level_state, params[6], params[7], params[8])
    for i in range(frame.shape[0]):
        frame[i] *= gain
    rms *= gain
    peak *= gain
    spectrum(frame, window, windowed, spec, axes, mag, power)

    logmel = vec[L.MEL : L.MEL + L.N_MELS]
    mel = scratch[0, : L.N_MELS]
    mel_bands(power, mel_start, mel_stop, mel_weights, mel)
    power_to_db(mel, logmel, AMIN, TOP_DB)
    dct(logmel, dct_matrix, vec[L.MFCC : L.MFCC + L.N_MFCC])
    # constant-Q chroma: this hop's new samples (all of the first window) join the decimated history
    hop = params[3]
    if seen == 0:
        n_new = frame.shape[0]
    else:
        n_new = int(round(seen * hop)) - int(round((seen - 1) * hop))  # a fractional hop (resampled) stays on time
    push_samples(frame, n_new, cq_fir, int(params[4]), cq_tail, cq_ring, cq_istate)
    cq_chroma(
        cq_ring,
        cq_istate,
        cq_window,
        cq_windowed,
        cq_spec,
        axes,
        cq_power,
        cq_start,
        cq_stop,
        cq_weights,
        cq_class,
        vec[L.CHROMA : L.CHROMA + L.N_CHROMA],
    )

    centroid, flatness = spectral_shape(mag, power, freqs)
    vec[L.LEVEL_DB] = 20.0 * math.log10(max(rms, 1e-5)) - TARGET_DB
    vec[L.PASSAGE_DB] = passage_level(level_state)
    vec[L.CENTROID] = centroid
    vec[L.FLATNESS] = flatness
    vec[L.FLUX] = flux(mag, prev_unit, seen > 0)
    vec[L.CREST_DB] = 20.0 * math.log10(peak / rms) if rms > 1e-10 else 0.0

    n_c = L.N_CONTRAST
    contrast(mag, bands, scratch[1], scratch[2], scratch[3, :n_c], scratch[3, n_c : 2 * n_c], vec[L.CONTRAST :])

    # rhythm: the onset strength's maximum over ``stride`` hops (rhythm frames of at most
    # RHYTHM_FPS_MAX per second, so short hops do not multiply the tempo search) goes into a ring
    onset = onset_strength(logmel, prev_logmel, seen > 0)
    vec[L.ONSET_STRENGTH] = onset
    fstate[_PEAK] = max(fstate[_PEAK], onset) if seen % stride else onset
    if (seen + 1) % stride == 0:
        beats = istate[_RHYTHM_FRAMES]
        size = onset_ring.shape[0]
        onset_ring[beats % size] = fstate[_PEAK]
        filled = min(beats + 1, size)
        env = scratch[4]
        unroll(onset_ring, beats + 1, filled, env)
        fstate[_RATE] = onset_rate(env, filled, rate_span, rhythm_fps)
        # the tempogram: the raw onsets' autocorrelation (the model reads the octave evidence better there)
        top = autocorrelation(env, filled, lags, scratch[9])
        tgram = fstate[_TEMPOGRAM : _TEMPOGRAM + L.N_TEMPOGRAM]
        tempogram(scratch[9], lags, top, band_lo, band_hi, tgram)
        # the tempo: the compressed onsets (each note counts, not its size)
        compress(env, filled, ONSET_COMPRESS_DB)
        tempo(env, filled, lags, periods, grid_prior, scratch[5], scratch[8], rhythm_fps, scratch[7, :2])
        fstate[_TEMPO] = scratch[7, 0]
        fstate[_DOUBLE] = scratch[7, 1]
        istate[_RHYTHM_FRAMES] = beats + 1
    vec[L.ONSET_RATE] = fstate[_RATE]
    vec[L.TEMPO] = fstate[_TEMPO]
    vec[L.TEMPO_DOUBLE] = fstate[_DOUBLE]
    for k in range(L.N_TEMPOGRAM):
        vec[L.TEMPOGRAM + k] = fstate[_TEMPOGRAM + k]
    articulation(vec[L.LEVEL_DB], seen, level_ring, dip_ring, int(params[5]), scratch[7, :2])
    vec[L.DUTY_CYCLE] = scratch[7, 0]
    vec[L.LEVEL_DIP_DB] = scratch[7, 1]

    # harmonic dissonance: the interval-class profile of this hop's chroma, and its mean over DISSONANCE_S
    dissonance(vec[L.CHROMA : L.CHROMA + L.N_CHROMA], seen, diss_ring, scratch[7, 7:9])
    vec[L.DISSONANCE] = scratch[7, 7]
    vec[L.DISSONANCE_MEAN] = scratch[7, 8]

    # key: KK profiles against the mean chroma of the last KEY_S seconds
    push_chroma(chroma_ring, chroma_sum, seen, vec[L.CHROMA : L.CHROMA + L.N_CHROMA])
    filled = min(seen + 1, chroma_ring.shape[0])
    mean = scratch[6, : L.N_CHROMA]
    for c in range(L.N_CHROMA):
        mean[c] = chroma_sum[c] / filled
    key = scratch[7, 2:7]
    key_strengths(mean, profiles, key)
    vec[L.KEY_CLARITY] = key[0]
    vec[L.MAJOR_STRENGTH] = key[1]
    vec[L.MINOR_STRENGTH] = key[2]
    vec[L.KEY_MODE] = key[3]
    vec[L.TONIC_THIRD] = key[4]

    # causal width-5 slope: (-2 x[t-4] - x[t-3] + x[t-1] + 2 x[t]) / 10, history padded with the first value
    depth = delta_ring.shape[0]  # DELTA_WIDTH = 5: slots newest, newest-1, ..., newest-4 (= newest+1)
    for j in range(len(L.DELTA_OF)):
        v = vec[L.DELTA_OF[j]]
        if seen == 0:
            for r in range(depth):
                delta_ring[r, j] = v
        else:
            delta_ring[seen % depth, j] = v
        newest = seen % depth
        # exactly 0 for a constant (paired differences, not a weighted sum)
        s = 2.0 * (delta_ring[newest, j] - delta_ring[(newest + 1) % depth, j])
        s += delta_ring[(newest + depth - 1) % depth, j] - delta_ring[(newest + 2) % depth, j]
        vec[L.DELTAS + j] = s / 10.0
    istate[_SEEN] = seen + 1

    for i in range(L.FEATURE_SIZE):
        v = vec[i]
        out[i] = v if math.isfinite(v) and abs(v) < 3.0e38 else 0.0  # last guard: the output is always finite
    return bad


class FeatureExtractor:
    """The 128 features (layout ``LAYOUT_VERSION``) of ``window``-sample frames, ``hop`` samples apart.

    ``sample_rate`` is the analysis rate in Hz; ``hop`` (samples at that rate)
    sets the time scale of the streaming features. Raises ValueError for a
    window under 64 samples or a hop under 1.
    """

    def __init__(self, sample_rate: float, window: int, hop: float):
        if window < 64 or hop < 1:
            raise ValueError(f"feature window must be >= 64 and hop >= 1 samples, got {window} and {hop}")
        self.sample_rate = float(sample_rate)
        self.window = int(window)
        self.hop = hop  # samples at sample_rate; not an integer when the live window is resampled
        sr, n = self.sample_rate, self.window
        bins = n // 2 + 1
        self.fps = sr / hop
        self._window = tables.hann(n)
        self._freqs = tables.fft_frequencies(sr, n)
        self._mel = tables.sparse_rows(tables.mel_filterbank(sr, n, L.N_MELS))
        self._dct = tables.dct_ortho(L.N_MFCC, L.N_MELS)
        factor, self._cq_fir = tables.cq_decimation(sr)
        self.cq_factor = factor  # the constant-Q chroma's decimation (scripts/bench_features.py reads it)
        cq_n = tables.cq_window_size(sr / factor)
        self._cq_window = tables.hann(cq_n)
        self._cq_bank = tables.cq_filterbank(sr / factor, cq_n)
        self._bands = tables.contrast_bands(sr, n)
        self._profiles = tables.key_profiles()
        stride = max(1, int(np.ceil(self.fps / RHYTHM_FPS_MAX)))
        self.rhythm_fps = self.fps / stride
        onset_size = max(8, int(round(max(TEMPO_S, ONSET_RATE_S) * self.rhythm_fps)))
        self._lags = tables.tempo_lags(self.rhythm_fps, onset_size)
        self._periods, self._grid_prior = tables.tempo_grid(self.rhythm_fps)
        self._band_lo, self._band_hi = tables.tempogram_bands(self.rhythm_fps, L.tempogram_edges())
        peak_span = max(1, int(round(PEAK_S * self.fps)))
        rate_span = max(3, int(round(ONSET_RATE_S * self.rhythm_fps)))
        level = [follower_coefficient(t, self.fps) for t in (ATTACK_S, RELEASE_S, PASSAGE_S)]
        self._params = np.array([self.rhythm_fps, rate_span, stride, hop, factor, peak_span, *level])
        self._cq_windowed = np.zeros(cq_n)
        self._cq_spec = np.zeros(cq_n // 2 + 1, dtype=np.complex128)
        self._cq_power = np.zeros(cq_n // 2 + 1)
        self._cq_tail = np.zeros(int(2 ** np.ceil(np.log2(len(self._cq_fir) + 1))))
        self._cq_ring = np.zeros(cq_n)
        self._cq_istate = np.zeros(CQ_ISTATE, dtype=np.int64)
        self._frame = np.zeros(n)
        self._windowed = np.zeros(n)
        self._spec = np.zeros(bins, dtype=np.complex128)
        self._axes = np.zeros(1, dtype=np.int64)
        self._mag = np.zeros(bins)
        self._power = np.zeros(bins)
        self._vec = np.zeros(L.FEATURE_SIZE)
        width = max(bins, onset_size, len(self._lags), int(self._bands[:, 2].max()), 2 * L.N_CONTRAST)
        width = max(width, 8, len(self._lags) + 2 * int(self._lags[-1]) + 2, len(self._periods))
        self._scratch = np.zeros((10, width))
        self._prev_logmel = np.zeros(L.N_MELS)
        self._prev_unit = np.zeros(bins)
        self._onset_ring = np.zeros(onset_size)
        self._chroma_ring = np.zeros((max(1, int(round(KEY_S * self.fps))), L.N_CHROMA))
        self._chroma_sum = np.zeros(L.N_CHROMA)
        self._level_ring = np.zeros(peak_span)
        self._dip_ring = np.zeros(max(1, int(round(SPAN_S * self.fps))))
        self._diss_ring = np.zeros(max(1, int(round(DISSONANCE_S * self.fps))))
        self._delta_ring = np.zeros((DELTA_WIDTH, len(L.DELTA_OF)))
        self._level_state = np.zeros(LEVEL_STATE)
        self._fstate = np.zeros(4 + L.N_TEMPOGRAM)
        self._istate = np.zeros(2, dtype=np.int64)

    def reset(self) -> None:
        """Forget the streaming state: the next frame is treated as the first."""
        for a in (self._prev_logmel, self._prev_unit, self._onset_ring, self._chroma_ring, self._chroma_sum):
            a[...] = 0.0
        self._cq_tail[...] = 0.0
        self._cq_ring[...] = 0.0
        self._cq_istate[:] = 0
        self._level_ring[...] = 0.0
        self._dip_ring[...] = 0.0
        self._diss_ring[...] = 0.0
        self._delta_ring[...] = 0.0
        self._level_state[...] = 0.0
        self._fstate[...] = 0.0
        self._istate[:] = 0

    def compute(self, samples: np.ndarray, out: np.ndarray) -> int:
        """Fill float32 ``out[:128]`` from float32 ``samples`` (``window`` of them, mono).

        Returns the count of non-finite samples (treated as 0). Never raises
        for bad audio and never writes a non-finite value; raises ValueError
        if ``samples`` does not hold ``window`` values.
        """
        if samples.shape[0] != self.window:
            raise ValueError(f"expected {self.window} samples, got {samples.shape[0]}")
        return extract(
            samples,
            out,
            self._window,
            self._freqs,
            self._mel[0],
            self._mel[1],
            self._mel[2],
            self._dct,
            self._cq_fir,
            self._cq_window,
            *self._cq_bank,
            self._bands,
            self._profiles,
            self._lags,
            self._periods,
            self._grid_prior,
            self._band_lo,
            self._band_hi,
            self._params,
            self._frame,
            self._windowed,
            self._spec,
            self._axes,
            self._mag,
            self._power,
            self._cq_windowed,
            self._cq_spec,
            self._cq_power,
            self._vec,
            self._scratch,
            self._prev_logmel,
            self._prev_unit,
            self._onset_ring,
            self._cq_tail,
            self._cq_ring,
            self._cq_istate,
            self._chroma_ring,
            self._chroma_sum,
            self._level_ring,
            self._dip_ring,
            self._diss_ring,
            self._delta_ring,
            self._level_state,
            self._fstate,
            self._istate,
        )

    def analysis_gain(self) -> float:
        """The linear gain the level reference applied to the last frame (1 before any sound; ``level``)."""
        return float(self._level_state[LEVEL_GAIN])

    def frames_seen(self) -> int:
        """Frames computed since the last reset."""
        return int(self._istate[0])
