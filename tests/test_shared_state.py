"""The shared state's blocks (``rt/shared_state.py``): declared once, every index unique and inside its block."""

from __future__ import annotations

import numba
import numpy as np

from kelly_jack.rt import shared_state as S

SIZES = {
    "T": S.TABLE_SIZE,
    "P": S.N_PARAMS,
    "S": S.N_STATE,
    "C": S.N_COUNTERS,
    "I": S.N_INFERENCE_COUNTERS,
    "R": S.RECORD_WIDTH,
    "Y": S.SYNC_SIZE,
}


def test_every_block_is_numbered_from_its_declaration_without_gaps_or_repeats():
    assert set(S.BLOCKS) == set(SIZES)
    for prefix, names in S.BLOCKS.items():
        assert len(set(names)) == len(names), prefix
        at = [getattr(S, f"{prefix}_{n}") for n in names]
        assert all(type(i) is int for i in at), prefix  # plain ints: Numba compiles them in as constants
        assert at == sorted(at) and len(set(at)) == len(at) and at[0] == 0, prefix
        assert at[-1] < SIZES[prefix], prefix
    assert S.R_EMOTION + 64 == S.RECORD_WIDTH  # the one run of slots: the 64 logits
    assert SIZES == {"T": 25, "P": 14, "S": 16, "C": 16, "I": 10, "R": 70, "Y": 1}


def test_no_index_constant_is_numbered_outside_a_block():
    declared = {f"{p}_{n}" for p, names in S.BLOCKS.items() for n in names}
    stray = [k for k in vars(S) if k[:2] in {f"{p}_" for p in SIZES} and k.isupper() and k not in declared]
    assert not stray


def test_numba_reads_the_constants_as_compile_time_ints():
    @numba.njit
    def read(counters):
        counters[S.C_XRUNS] += 1
        return S.N_COUNTERS

    c = np.zeros(S.N_COUNTERS, dtype=np.int64)
    assert read(c) == 16 and c[S.C_XRUNS] == 1
