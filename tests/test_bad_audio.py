"""Bad audio through the whole analysis path: the feature extractor, both shipped backends (rtneural
and onnx, the same model) and the learned valence/arousal mapping give finite values for NaN, Inf,
denormals, DC, clipping, silence and any float32 bit pattern (hypothesis); and ``kelly-jack render``
of a file full of them (resampled by soxr, as on a server at another rate) writes finite timelines.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kelly_jack.backends import create_backend
from kelly_jack.inference.mapping import emotion_mapping
from kelly_jack.rt.emotion import grid_centroid, learned_mapping
from kelly_jack.rt.features import FEATURE_SIZE, FeatureExtractor

from support.jackd import ROOT

SR, WINDOW, HOP = 48000, 2048, 1024
MODELS = {"rtneural": ROOT / "models" / "emotion.rtneural.json", "onnx": ROOT / "models" / "emotion.onnx"}
BACKENDS = {name: create_backend(name, {"model": str(path)}) for name, path in MODELS.items()}
N = WINDOW + 3 * HOP
t = np.arange(N)
BIG = np.float32(3.4e38)
SIGNALS = {
    "silence": np.zeros(N),
    "dc": np.full(N, 0.5),
    "full-scale dc": np.full(N, -1.0),
    "clipped sine": np.clip(20 * np.sin(t * 0.02), -1, 1),
    "over full scale": 50 * np.sin(t * 0.02),
    "float32 max": np.where(t % 2 == 0, BIG, -BIG),
    "denormals": np.full(N, 1e-41),
    "denormal noise": 1e-43 * np.random.default_rng(1).standard_normal(N),
    "nan": np.full(N, np.nan),
    "+inf": np.full(N, np.inf),
    "-inf": np.full(N, -np.inf),
    "nan bursts in music": np.where((t // 300) % 4 == 0, np.nan, 0.3 * np.sin(t * 0.05)),
    "one inf sample": np.where(t == 2500, np.inf, 0.2 * np.sin(t * 0.01)),
    "impulse": (t == 3000).astype(float),
    "alternating nan/inf/-inf": np.choose(t % 3, [np.nan, np.inf, -np.inf]),
}


def analyse(x: np.ndarray) -> np.ndarray:
    """Feature rows of every hop of ``x`` (float32), streaming through one extractor."""
    fx = FeatureExtractor(SR, WINDOW, HOP)
    x = np.asarray(x, dtype=np.float32)
    rows = np.zeros(((len(x) - WINDOW) // HOP + 1, FEATURE_SIZE), dtype=np.float32)
    for j in range(len(rows)):
        fx.compute(x[j * HOP : j * HOP + WINDOW], rows[j])
    return rows


def emotions(rows: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(backend, 64 logits per row, valence/arousal/confidence per row) for both shipped backends."""
    out = []
    for name, backend in BACKENDS.items():
        backend.reset()
        logits = np.stack([np.asarray(backend.infer(r), dtype=np.float64) for r in rows])
        mapping = emotion_mapping("auto", backend)
        va = np.zeros((len(rows), 3))
        for i, y in enumerate(logits):
            grid_centroid(y, va[i])
            if mapping is not None:
                vad = np.zeros(3)
                learned_mapping(y, mapping, vad)
                va[i, :2] = vad[:2]
        out.append((name, logits, va))
    return out


@pytest.mark.parametrize("name", list(SIGNALS))
def test_bad_audio_gives_finite_features_emotions_and_valence_arousal(name):
    rows = analyse(SIGNALS[name])
    assert np.isfinite(rows).all()
    for backend, logits, va in emotions(rows):
        assert logits.shape == (len(rows), 64)
        assert np.isfinite(logits).all(), backend
        assert np.isfinite(va).all() and np.all(np.abs(va[:, :2]) <= 1.5), (backend, va)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    hnp.arrays(
        np.float32,
        WINDOW + HOP,
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    )
)
def test_any_float32_samples_give_finite_emotions(x):
    rows = analyse(x)
    assert np.isfinite(rows).all()
    for backend, logits, va in emotions(rows):
        assert np.isfinite(logits).all() and np.isfinite(va).all(), backend


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(bits=hnp.arrays(np.uint32, WINDOW, elements=st.integers(0, 2**32 - 1)))
def test_any_bit_pattern_gives_finite_features(bits):
    rows = analyse(bits.view(np.float32))
    assert np.isfinite(rows).all()


def test_render_of_a_file_full_of_bad_samples_writes_finite_timelines(tmp_path):
    # 44.1 kHz, so render resamples with soxr to the 48 kHz analysis rate: NaN must not spread into the output
    wav, mid, timeline = tmp_path / "bad.wav", tmp_path / "bad.mid", tmp_path / "bad.csv"
    bad = np.concatenate([np.asarray(s, dtype=np.float32)[: 44100 // 4] for s in SIGNALS.values()])
    sf.write(wav, bad, 44100, subtype="FLOAT")
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "render", str(wav), "-o", str(mid), "--csv", str(timeline)]
        + ["--config", str(ROOT / "config" / "studio.yaml")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    with timeline.open() as f:
        table = list(csv.DictReader(f))
    assert len(table) > 40
    numbers = [float(v) for row in table for v in row.values() if v not in ("", None)]
    assert numbers and np.isfinite(numbers).all()
