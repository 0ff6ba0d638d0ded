"""How a feature group declares its arrays: tables, work space and streaming state.

Each group module (``level.py``, ``mel.py``, ``rhythm.py``, ...) declares:

* ``SLOTS``: the layout indices its kernel writes (``layout.py`` orders and
  names them; every slot has exactly one group, a test checks it);
* ``ARRAYS``: its arrays, in order: ``Table`` (built once from the ``Setting``,
  read only), ``Work`` (scratch space, no meaning between hops) and ``State``
  (streaming state: kept from hop to hop, set back to its reset value by
  ``FeatureExtractor.reset()``);
* ``hop``: its nopython kernel, decorated ``@kernel``. Its parameters end with
  one parameter per array, named and ordered as ``ARRAYS`` (a test checks that
  too): the extractor keeps each group's arrays in one tuple and calls
  ``group.hop(<shared inputs>, *arrays)``. The functions a ``hop`` calls are
  decorated ``@helper`` (see below).

The extractor (``extractor.py``) allocates every group's arrays once per
stream (``allocate``); nothing on the per-hop path allocates. Adding a
feature: docs/features.md, "Adding a feature".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

# ``kernel``: a group's ``hop``, the extractor's ``extract`` and ``mix_to_mono``, each compiled on its own and cached.
kernel = numba.njit(nogil=True, cache=True)
# ``helper``: what a ``hop`` calls, inlined into its caller by Numba before typing. A kernel compiled on its
# own costs a pipeline, an LLVM module, machine code and a cache file, and LLVM inlines its code into every
# caller anyway: 18 compiles instead of 46 take an eighth less CPU from a cold start (9.2 -> 8.1 s). Still
# callable from Python (tests) as an ordinary jitted function.
helper = numba.njit(nogil=True, cache=True, inline="always")


@dataclass(frozen=True)
class Setting:
    """What a group's table values and array sizes may depend on: the stream's rate, window and hop."""

    sample_rate: float  # Hz (the analysis rate)
    window: int  # samples per frame
    hop: float  # samples between frames (fractional when the live input is resampled)

    @property
    def fps(self) -> float:
        """Hops per second."""
        return self.sample_rate / self.hop

    @property
    def bins(self) -> int:
        """rfft bins of a frame."""
        return self.window // 2 + 1

    def hops(self, seconds: float) -> int:
        """Hops in ``seconds`` (at least 1)."""
        return max(1, int(round(seconds * self.fps)))


Shape = Callable[[Setting], "int | tuple[int, ...]"]


@dataclass(frozen=True)
class Table:
    """A constant array: ``build(setting)`` (numpy, not real-time) makes it once per stream."""

    name: str
    build: Callable[[Setting], np.ndarray]


@dataclass(frozen=True)
class Work:
    """Scratch space of one hop: zeros at the start, no meaning between hops, never reset."""

    name: str
    shape: Shape
    dtype: type = np.float64


@dataclass(frozen=True)
class State:
    """Streaming state: kept from hop to hop, set to ``reset`` by ``FeatureExtractor.reset()``."""

    name: str
    shape: Shape
    dtype: type = np.float64
    reset: float = 0


Array = Table | Work | State


def allocate(arrays: tuple[Array, ...], setting: Setting) -> tuple[np.ndarray, ...]:
    """One numpy array per declaration, in order (streaming state at its reset value)."""
    out = []
    for a in arrays:
        if isinstance(a, Table):
            out.append(np.ascontiguousarray(a.build(setting)))
        else:
            x = np.zeros(a.shape(setting), dtype=a.dtype)
            if isinstance(a, State):
                x[...] = a.reset
            out.append(x)
    return tuple(out)


def reset(arrays: tuple[Array, ...], values: tuple[np.ndarray, ...]) -> None:
    """Set the streaming state among ``values`` (allocated from ``arrays``) to its reset values."""
    for a, x in zip(arrays, values, strict=True):
        if isinstance(a, State):
            x[...] = a.reset


def index(arrays: tuple[Array, ...], name: str) -> int:
    """The position of ``name`` in ``arrays`` (for kernels that take one array out of another group's tuple)."""
    for i, a in enumerate(arrays):
        if a.name == name:
            return i
    raise KeyError(name)


def ceil_pow2(n: int) -> int:
    """The smallest power of two >= ``n`` (ring sizes indexed with a mask)."""
    return int(2 ** np.ceil(np.log2(n)))
