"""``FeatureExtractor``: the 128 features of one analysis window, with streaming state.

One extractor per stream. Construction builds the tables and allocates every
array (numpy, not real-time); ``compute`` then runs one nopython kernel,
``extract``, over those preallocated arrays (no allocation, GIL released) and
may run on the inference thread. The live inference thread, ``kelly-jack
features`` and training scripts all use this class: there is no second
implementation (the plain numpy version in tests/support/feature_oracle.py
is the tests' oracle).

The work is split into groups, one module each, called in this order (``GROUPS``):

* ``spectrum``: the frame (non-finite samples counted and zeroed) and its spectrum;
* ``level``: the level reference (every feature is computed on the frame
  scaled to it, so none depends on the input gain), ``level_db``, ``passage_db``;
* ``mel``: the log-mel bands and MFCCs;
* ``cqchroma``: the constant-Q chroma from a decimated history of the stream;
* ``descriptors``: centroid, flatness, flux, crest, spectral contrast;
* ``rhythm``: onset strength, onset rate, tempo, tempogram (a ring of onsets);
* ``articulation``: duty cycle and level dips (rings of levels);
* ``consonance``: dissonance (a ring of its values);
* ``chroma``: key and mode (a ring of chroma frames);
* ``delta``: the slope of ``level_db``.

Each declares the slots it writes, its arrays (tables, work space, streaming
state) and its kernel ``hop`` (see ``group.py``); the extractor keeps one
tuple of arrays per group and ``extract`` passes each group its own. The
streaming state assumes consecutive calls are ``hop`` samples apart;
``reset()`` forgets it (after a gap in the audio, or between files).
"""

from __future__ import annotations

import math

import numpy as np

from . import articulation, chroma, consonance, cqchroma, delta, descriptors, level, mel, rhythm, spectrum
from . import group as G
from . import layout as L

# the groups in the order ``extract`` runs them (a group reads what the ones before it wrote into the vector)
GROUPS = (spectrum, level, mel, cqchroma, descriptors, rhythm, articulation, consonance, chroma, delta)

# the extractor's own arrays: the vector before the float32 store, and the hop count
ARRAYS = (
    G.Work("vec", lambda s: L.FEATURE_SIZE),
    G.State("seen", lambda s: 1, np.int64),  # frames since reset
)
VEC = G.index(ARRAYS, "vec")
SEEN = G.index(ARRAYS, "seen")


@G.kernel
def extract(
    x,
    out,
    own,
    spectrum_arrays,
    level_arrays,
    mel_arrays,
    cq_arrays,
    descriptor_arrays,
    rhythm_arrays,
    articulation_arrays,
    consonance_arrays,
    key_arrays,
    delta_arrays,
):
    """All 128 features of ``x`` into ``out`` (float32); return the count of non-finite input samples.

    ``own`` is the extractor's ``ARRAYS``, each ``*_arrays`` a group's (in
    ``GROUPS`` order): one tuple of arrays each, passed on to the group's
    ``hop`` kernel.
    """
    vec = own[VEC]
    seen = own[SEEN][0]
    frame = spectrum_arrays[spectrum.FRAME]
    mag = spectrum_arrays[spectrum.MAG]
    power = spectrum_arrays[spectrum.POWER]

    bad = spectrum.load_window(x, frame)
    rms, peak = level.hop(frame, vec, *level_arrays)  # scales the frame: no feature depends on the input level
    spectrum.hop(*spectrum_arrays)
    mel.hop(power, vec, *mel_arrays)
    cqchroma.hop(frame, seen, vec, *cq_arrays)
    descriptors.hop(vec, seen, rms, peak, mag, power, *descriptor_arrays)
    rhythm.hop(vec, seen, *rhythm_arrays)
    articulation.hop(vec, seen, *articulation_arrays)
    consonance.hop(vec, seen, *consonance_arrays)
    chroma.hop(vec, seen, *key_arrays)
    delta.hop(vec, seen, *delta_arrays)
    own[SEEN][0] = seen + 1

    for i in range(L.FEATURE_SIZE):
        v = vec[i]
        out[i] = v if math.isfinite(v) and abs(v) < 3.0e38 else 0.0  # last guard: the output is always finite
    return bad


class FeatureExtractor:
    """The 128 features (layout ``LAYOUT_VERSION``) of ``window``-sample frames, ``hop`` samples apart.

    ``sample_rate`` is the analysis rate in Hz; ``hop`` (samples at that rate)
    sets the time scale of the streaming features. Raises ValueError for a
    window under 64 samples or a hop under 1. ``arrays[group][name]`` are the
    arrays the groups declared (``GROUPS``; the extractor's own under
    ``"extractor"``), for tests and the oracle to read.
    """

    def __init__(self, sample_rate: float, window: int, hop: float):
        if window < 64 or hop < 1:
            raise ValueError(f"feature window must be >= 64 and hop >= 1 samples, got {window} and {hop}")
        self.sample_rate = float(sample_rate)
        self.window = int(window)
        self.hop = hop  # samples at sample_rate; not an integer when the live window is resampled
        setting = G.Setting(self.sample_rate, self.window, hop)
        self.fps = setting.fps
        self.rhythm_fps = rhythm.frames_per_second(setting)
        self.cq_factor = cqchroma.decimation(self.sample_rate)[0]  # the constant-Q chroma's decimation
        self._own = G.allocate(ARRAYS, setting)
        self._groups = tuple(G.allocate(g.ARRAYS, setting) for g in GROUPS)
        self.arrays = {"extractor": dict(zip((a.name for a in ARRAYS), self._own, strict=True))}
        for g, values in zip(GROUPS, self._groups, strict=True):
            self.arrays[g.__name__.rsplit(".", 1)[-1]] = dict(zip((a.name for a in g.ARRAYS), values, strict=True))
        self._seen = self._own[SEEN]
        self._level_state = self.arrays["level"]["level_state"]

    def reset(self) -> None:
        """Forget the streaming state: the next frame is treated as the first."""
        G.reset(ARRAYS, self._own)
        for g, values in zip(GROUPS, self._groups, strict=True):
            G.reset(g.ARRAYS, values)

    def compute(self, samples: np.ndarray, out: np.ndarray) -> int:
        """Fill float32 ``out[:128]`` from float32 ``samples`` (``window`` of them, mono).

        Returns the count of non-finite samples (treated as 0). Never raises
        for bad audio and never writes a non-finite value; raises ValueError
        if ``samples`` does not hold ``window`` values.
        """
        if samples.shape[0] != self.window:
            raise ValueError(f"expected {self.window} samples, got {samples.shape[0]}")
        return extract(samples, out, self._own, *self._groups)

    def analysis_gain(self) -> float:
        """The linear gain the level reference applied to the last frame (1 before any sound; ``level``)."""
        return float(self._level_state[level.GAIN])

    def frames_seen(self) -> int:
        """Frames computed since the last reset."""
        return int(self._seen[0])
