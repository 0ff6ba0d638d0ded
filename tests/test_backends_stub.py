"""Stub backends: what they return and how their options are checked."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kelly_jack.backends import BackendError, available_backends, create_backend
from kelly_jack.rt.emotion import grid_centroid
from kelly_jack.rt.features import layout


def centroid(y):
    out = np.zeros(3)
    grid_centroid(np.asarray(y, dtype=np.float64), out)
    return out


def test_all_stubs_are_available():
    assert set(available_backends()) >= {"constant", "echo", "random", "slow", "failing", "heuristic"}


def test_constant_and_echo():
    b = create_backend("constant", {"valence": 0.25, "arousal": -0.75})
    assert centroid(b.infer(np.zeros(128, dtype=np.float32)))[:2] == pytest.approx([0.25, -0.75])
    f = np.arange(128, dtype=np.float32)
    assert np.array_equal(create_backend("echo", {}).infer(f), f[:64])


def test_random_is_seeded_and_resets():
    b = create_backend("random", {"seed": 3})
    first = b.infer(np.zeros(128, dtype=np.float32))
    b.reset()
    assert np.array_equal(first, b.infer(np.zeros(128, dtype=np.float32)))


def test_slow_sleeps():
    b = create_backend("slow", {"delay_ms": 30})
    t = time.perf_counter()
    b.infer(np.zeros(128, dtype=np.float32))
    assert time.perf_counter() - t >= 0.029


def test_failing_every_nth():
    b = create_backend("failing", {"every": 2})
    b.infer(np.zeros(128, dtype=np.float32))
    with pytest.raises(RuntimeError, match="deliberate"):
        b.infer(np.zeros(128, dtype=np.float32))


def test_heuristic_loud_bright_vs_quiet_dark():
    loud = np.zeros(128, dtype=np.float32)
    loud[layout.LEVEL_DB], loud[layout.CENTROID] = 0.0, 5000.0  # at the level reference
    quiet = np.zeros(128, dtype=np.float32)
    quiet[layout.LEVEL_DB], quiet[layout.CENTROID] = -40.0, 0.0  # 40 dB under it
    b = create_backend("heuristic", {})
    assert list(centroid(b.infer(loud))[:2]) == pytest.approx([1.0, 1.0])
    assert list(centroid(b.infer(quiet))[:2]) == pytest.approx([-1.0, -1.0])


@pytest.mark.parametrize(
    ("name", "options", "words"),
    [
        ("nope", {}, "unknown (available:"),
        ("constant", {"valence": 2.0}, "backend.valence must be in -1..1"),
        ("constant", {"valance": 0.1}, "unknown option backend.valance"),
        ("constant", {"valence": "high"}, "backend.valence must be float"),
        ("slow", {"delay_ms": -1}, "backend.delay_ms must be >= 0"),
        ("failing", {"mode": "explode"}, "backend.mode"),
        ("echo", {"x": 1}, "unknown option backend.x (options: none)"),
    ],
)
def test_bad_options_name_backend_and_key(name, options, words):
    with pytest.raises(BackendError) as e:
        create_backend(name, options)
    assert words in str(e.value)
    assert str(e.value).startswith(f"backend {name!r}")
