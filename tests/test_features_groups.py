"""The feature groups' declarations: every slot has one group, every kernel takes the arrays it declares.

Each ``rt/features/<group>.py`` declares ``SLOTS`` (the layout indices it
writes), ``ARRAYS`` (tables, work space, streaming state) and its kernel
``hop``, whose last parameters are those arrays by name and in order
(``extract`` passes them as ``*arrays``); see ``rt/features/group.py``.
"""

from __future__ import annotations

import inspect

import numpy as np

from kelly_jack.rt.features import FEATURE_SIZE, NAMES, FeatureExtractor, extractor
from kelly_jack.rt.features import group as G

from support import recordings as rec


def test_every_slot_is_written_by_exactly_one_group():
    owner: dict[int, str] = {}
    for g in extractor.GROUPS:
        for i in g.SLOTS:
            assert i not in owner, f"{NAMES[i]} is declared by {owner[i]} and {g.__name__}"
            owner[i] = g.__name__
    missing = [NAMES[i] for i in range(FEATURE_SIZE) if i not in owner]
    assert not missing, f"no group declares {missing}"


def test_each_kernel_takes_its_declared_arrays_last_in_order():
    for g in extractor.GROUPS:
        params = list(inspect.signature(g.hop.py_func).parameters)
        names = [a.name for a in g.ARRAYS]
        assert params[len(params) - len(names) :] == names, g.__name__
    names = [n for g in extractor.GROUPS for n in (a.name for a in g.ARRAYS)]
    assert len(names) == len(set(names)), "array names are unique across groups (FeatureExtractor.arrays)"


def test_reset_restores_the_state_and_leaves_tables_alone():
    fx = FeatureExtractor(48000, 2048, 1024)
    x = rec.chords(3.0).astype(np.float32)
    out = np.zeros(FEATURE_SIZE, dtype=np.float32)
    tables = {(g, n): a.copy() for g, arrays in fx.arrays.items() for n, a in arrays.items()}
    for j in range(0, x.size - 2048, 1024):
        fx.compute(x[j : j + 2048], out)
    fx.reset()
    for g in (extractor, *extractor.GROUPS):
        key = g.__name__.rsplit(".", 1)[-1]
        for a in g.ARRAYS:
            value = fx.arrays[key][a.name]
            if isinstance(a, G.State):
                assert np.all(value == a.reset), (key, a.name)
            elif isinstance(a, G.Table):
                assert np.array_equal(value, tables[(key, a.name)]), (key, a.name)
    assert fx.frames_seen() == 0


def test_setting_sizes_follow_the_hop():
    s = G.Setting(48000.0, 2048, 1024)
    assert s.fps == 46.875 and s.bins == 1025 and s.hops(8.0) == 375 and s.hops(0.0) == 1


def test_the_arrays_types_do_not_depend_on_whether_the_settings_are_ints_or_floats():
    """One compiled ``extract`` serves every setting: a table built from ``hop`` must not turn int64 when the
    hop is a whole number (the live thread passes a float hop, a worker compiling ahead an int one)."""
    whole, fractional = FeatureExtractor(48000, 2048, 1024), FeatureExtractor(48000.0, 2048, 1024.0)
    for a, b in zip(whole._groups, fractional._groups, strict=True):
        assert [x.dtype for x in a] == [y.dtype for y in b]
