"""The 8x8 grid mapping, smoothing, blend and CC quantisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kelly_jack.rt.emotion import EMOTION_SIZE, blend, cc_value, grid_centroid, logits_for, smoothing_alpha


@pytest.mark.parametrize(("v", "a"), [(0.0, 0.0), (0.5, -0.25), (-1.0, 1.0), (0.93, -0.61), (1.0, 1.0)])
def test_logits_for_round_trips_through_the_centroid(v, a):
    out = np.zeros(3)
    assert grid_centroid(logits_for(v, a).astype(np.float64), out) == 0
    assert out[0] == pytest.approx(v, abs=1e-6)
    assert out[1] == pytest.approx(a, abs=1e-6)


def test_grid_axes_valence_along_columns_arousal_along_rows():
    out = np.zeros(3)
    logits = np.full(EMOTION_SIZE, -50.0)
    logits[2 * 8 + 7] = 0.0  # row 2, last column
    grid_centroid(logits, out)
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(-1.0 + 2.0 * 2 / 7)
    assert out[2] == pytest.approx(1.0)  # all mass in one cell


def test_uniform_distribution_has_no_confidence():
    out = np.zeros(3)
    grid_centroid(np.zeros(EMOTION_SIZE), out)
    assert out[0] == pytest.approx(0.0, abs=1e-12)
    assert out[1] == pytest.approx(0.0, abs=1e-12)
    assert out[2] == pytest.approx(0.0, abs=1e-9)


def test_large_logits_do_not_overflow_and_non_finite_are_counted():
    out = np.zeros(3)
    logits = np.zeros(EMOTION_SIZE)
    logits[0] = 1e6
    logits[5] = np.nan
    logits[6] = np.inf
    assert grid_centroid(logits, out) == 2
    assert np.all(np.isfinite(out))
    assert out[0] == pytest.approx(-1.0)
    out[:] = 9
    assert grid_centroid(np.full(EMOTION_SIZE, np.nan), out) == EMOTION_SIZE
    assert list(out) == [0, 0, 0]


def test_cc_value_maps_the_range_onto_7_bits():
    assert cc_value(-1.0) == 0
    assert cc_value(1.0) == 127
    assert cc_value(0.0) == 64
    assert cc_value(5.0) == 127
    assert cc_value(-5.0) == 0
    assert cc_value(math.nan) == 64
    values = [cc_value(x) for x in np.linspace(-1, 1, 1000)]
    assert values == sorted(values)
    assert set(values) == set(range(128))


def test_smoothing_alpha():
    assert smoothing_alpha(128, 0.0) == 1.0
    assert smoothing_alpha(480, 480.0) == pytest.approx(1 - math.exp(-1))
    # advancing twice by n equals advancing once by 2n
    one = 1 - smoothing_alpha(256, 1000.0)
    two = (1 - smoothing_alpha(128, 1000.0)) ** 2
    assert one == pytest.approx(two)


def test_blend():
    assert blend(1.0, -1.0, 1.0, 1.0) == 1.0
    assert blend(1.0, -1.0, 0.0, 1.0) == -1.0
    assert blend(1.0, -1.0, 0.25, 1.0) == pytest.approx(-0.5)
    assert blend(1.0, -1.0, 1.0, 0.0) == -1.0  # ML off: the user's value


def test_learned_mapping_is_the_matrix_times_the_softmax_clamped():
    from kelly_jack.rt.emotion import learned_mapping

    rng = np.random.default_rng(3)
    logits = rng.standard_normal(64) * 3
    matrix = rng.standard_normal((3, 64))
    out = np.zeros(3)
    learned_mapping(logits, matrix, out)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    np.testing.assert_allclose(out, np.clip(matrix @ p, -1, 1), atol=1e-12)
    learned_mapping(logits, matrix * 100, out)
    assert np.all(np.abs(out) <= 1.0)
    bad = logits.copy()
    bad[:] = np.nan
    learned_mapping(bad, matrix, out)
    assert np.array_equal(out, np.zeros(3))


def test_the_mapping_choice_follows_the_model_metadata():
    from kelly_jack.inference.mapping import MappingError, emotion_mapping

    class Model:
        name = "m"

        def __init__(self, matrix):
            self.metadata = {"emotion_mapping": matrix}

    shipped = Model(np.eye(3, 64).tolist())
    assert emotion_mapping("auto", shipped).shape == (3, 64)
    assert emotion_mapping("centroid", shipped) is None
    assert emotion_mapping("auto", Model(None)) is None
    with pytest.raises(MappingError, match="ships no learned mapping"):
        emotion_mapping("learned", Model(None))
