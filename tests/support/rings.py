"""Playing the audio thread's part in tests of the inference thread: periods into the audio ring, results out."""

from __future__ import annotations

import numpy as np

from kelly_jack.engine.state import SharedState
from kelly_jack.rt import ring


def audio_period(state: SharedState, frames: np.ndarray) -> bool:
    """What the audio callback does with one period: all channels or none (counted)."""
    n = frames.shape[-1]
    hdr = state.audio_hdr
    if ring.producer_space(hdr) < n:
        hdr[ring.H_OVERFLOW] += n
        return False
    w = hdr[ring.H_WRITE]
    for ch in range(state.channels):
        ring.copy_in(state.audio[ch], w, frames[ch], n)
    ring.producer_commit(hdr, n)
    return True


def results(state: SharedState) -> list[np.ndarray]:
    out = []
    while (row := ring.record_peek(state.result_hdr, state.results)) >= 0:
        out.append(state.results[row].copy())
        ring.record_pop(state.result_hdr)
    return out
