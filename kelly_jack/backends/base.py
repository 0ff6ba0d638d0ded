"""The backend contract, its error type, a base class, and the adapter for plain callables.

A backend is what a backend factory returns (see ``kelly_jack.hookspecs``):

* ``name``, ``input_size`` and ``output_size``;
* what it hears, ``input_kind``: ``"features"`` (the default: the 128-float
  feature vector of each hop, ``input_size`` 128) or ``"audio"``: mono float32
  samples at ``audio_rate`` Hz, ``audio_window`` of them (``input_size``), a new
  window every ``audio_hop`` samples (the inference thread resamples the server's
  audio with soxr and rounds the hop to whole analysis hops: ``AudioInput``);
* what it says, ``output_kind``: ``"grid"`` (the default: 64 values over the
  8x8 valence/arousal grid) or ``"valence_arousal"``: 2 values, valence and
  arousal in -1..1, or 3 with dominance;
* ``infer(x) -> y``: one float32 vector in, ``output_size`` floats out;
* ``infer_block(X) -> Y``: rows of X are consecutive steps; a streaming model
  processes them in order, carrying its state, as if ``infer`` were called per row;
* ``reset()``: forget streaming state;
* ``metadata``: a dict with at least ``name`` and ``layout_version`` (the feature
  layout the model was trained on, None if it does not say), and
  ``emotion_mapping`` (a 3x64 valence/arousal/dominance matrix, or None for
  the default 8x8 grid centroid).

``infer`` may raise or return non-finite values: the inference thread drops
and counts those. Loading must not: every problem is a ``BackendError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import KellyError

FEATURES = 128
EMOTIONS = 64
FEATURES_INPUT, AUDIO_INPUT = "features", "audio"
GRID_OUTPUT, VALENCE_AROUSAL_OUTPUT = "grid", "valence_arousal"
MAX_AUDIO_SECONDS = 30.0  # an audio window longer than this is refused (the ring holds twice the window)


def softmax(logits: np.ndarray) -> np.ndarray:
    """The probabilities of the emotion grid's cells from a backend's logits, along the last axis."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class BackendError(KellyError):
    """A backend could not be created or loaded; ``str()`` is one line for the user.

    ``key`` names the option of the backend block at fault ("name" for an
    unknown backend, None when no single option is); ``KellyError`` carries it.
    """


class BackendBase:
    """Defaults for the contract: per-row ``infer_block``, no state, minimal metadata."""

    name = "backend"
    input_size = FEATURES
    output_size = EMOTIONS
    layout_version: int | None = None
    input_kind = FEATURES_INPUT
    output_kind = GRID_OUTPUT
    audio_rate = 0  # audio input: Hz
    audio_window = 0  # audio input: samples at audio_rate per call
    audio_hop = 0  # audio input: samples at audio_rate between two windows

    def infer(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def infer_block(self, block: np.ndarray) -> np.ndarray:
        """Rows of ``block`` as consecutive steps."""
        rows = np.asarray(block, dtype=np.float32).reshape(-1, self.input_size)
        return (
            np.stack([np.asarray(self.infer(row), dtype=np.float32) for row in rows])
            if len(rows)
            else (np.zeros((0, self.output_size), dtype=np.float32))
        )

    def reset(self) -> None:
        pass

    @property
    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "layout_version": self.layout_version, "emotion_mapping": None}


class FunctionBackend(BackendBase):
    """Any callable ``features -> emotion`` as a backend (the seed's setInferenceFunction)."""

    def __init__(self, fn: Callable[[np.ndarray], Any], name: str = "function"):
        if not callable(fn):
            raise BackendError(f"backend {name!r}: {fn!r} is not callable")
        self._fn = fn
        self.name = name

    def infer(self, features: np.ndarray) -> np.ndarray:
        return self._fn(features)


def check_shape(backend: BackendBase) -> None:
    """Raise BackendError unless what ``backend`` declares it hears and says is something kelly can run."""
    name = getattr(backend, "name", "?")
    kind_in = getattr(backend, "input_kind", FEATURES_INPUT)
    kind_out = getattr(backend, "output_kind", GRID_OUTPUT)
    if kind_in == FEATURES_INPUT:
        if backend.input_size != FEATURES:
            raise BackendError(
                f"backend {name!r}: the model maps {backend.input_size} inputs to {backend.output_size} outputs; "
                f"kelly needs {FEATURES} features -> {EMOTIONS} emotion values",
                "model",
            )
    elif kind_in == AUDIO_INPUT:
        rate, window, hop = backend.audio_rate, backend.audio_window, backend.audio_hop
        if not (isinstance(rate, int) and 1000 <= rate <= 384000):
            raise BackendError(f"backend {name!r}: audio_rate {rate!r} Hz, expected an integer 1000..384000")
        sizes_ok = isinstance(window, int) and isinstance(hop, int) and hop > 0
        if not (sizes_ok and 0 < window <= MAX_AUDIO_SECONDS * rate):
            raise BackendError(
                f"backend {name!r}: audio_window {window!r} and audio_hop {hop!r} samples at {rate} Hz: expected "
                f"integers, a window of at most {MAX_AUDIO_SECONDS:g} s and a hop above 0"
            )
        if backend.input_size != window:
            raise BackendError(f"backend {name!r}: input_size {backend.input_size} is not its audio_window {window}")
    else:
        raise BackendError(f"backend {name!r}: input_kind {kind_in!r}, expected {FEATURES_INPUT!r} or {AUDIO_INPUT!r}")
    sizes = {GRID_OUTPUT: (EMOTIONS,), VALENCE_AROUSAL_OUTPUT: (2, 3)}
    if kind_out not in sizes:
        raise BackendError(
            f"backend {name!r}: output_kind {kind_out!r}, expected {GRID_OUTPUT!r} or {VALENCE_AROUSAL_OUTPUT!r}"
        )
    if backend.output_size not in sizes[kind_out]:
        if kind_out == GRID_OUTPUT and kind_in == FEATURES_INPUT:
            raise BackendError(
                f"backend {name!r}: the model maps {backend.input_size} inputs to {backend.output_size} outputs; "
                f"kelly needs {FEATURES} features -> {EMOTIONS} emotion values",
                "model",
            )
        wanted = " or ".join(map(str, sizes[kind_out]))
        raise BackendError(
            f"backend {name!r}: the model gives {backend.output_size} values; {kind_out} output is {wanted}"
        )


def silent_input(backend: BackendBase) -> np.ndarray:
    """Zeros of the length ``backend.infer`` takes: for a warm-up call that compiles before the first hop."""
    return np.zeros(backend.input_size, dtype=np.float32)


def pick_tensor(named: list[tuple[str, Any]], wanted: str, what: str, where: str) -> Any:
    """The graph's ``what`` ("input" or "output") named ``wanted``, or its only one when ``wanted`` is "".

    ``named``: (name, tensor) of the candidates (the graph's, less its recurrent state). For the onnx
    and tflite backends. Raises BackendError (key ``what``) naming the file ``where`` and the names it has.
    """
    names = ", ".join(name for name, _ in named)
    if wanted:
        for name, tensor in named:
            if name == wanted:
                return tensor
        raise BackendError(f"{where}: no {what} named {wanted!r} (has {names})", what)
    if len(named) != 1:
        raise BackendError(f"{where}: the graph has {len(named)} {what}s ({names}); name one with backend.{what}", what)
    return named[0][1]


def check_layout_version(backend: BackendBase, model: str | None, expected: int) -> None:
    """Raise BackendError (key "model") if ``backend``'s model was trained on another feature layout.

    A model that does not say (``layout_version`` None) is accepted.
    """
    version = backend.metadata.get("layout_version")
    if version is not None and int(version) != expected:
        what = f"model {model}" if model else "the model"
        raise BackendError(
            f"backend {backend.name!r}: {what} was trained on feature layout {version}, "
            f"but kelly-jack computes feature layout {expected}; retrain or convert the model",
            "model" if model else None,
        )


def take_options(backend: str, options: dict[str, Any], spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    """Check ``options`` against ``spec`` (key -> (type, default)); raises BackendError.

    ints are accepted where floats are expected; bools are never numbers. A
    default of ``...`` makes the option required.
    """
    out = {}
    for key in options:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise BackendError(f"backend {backend!r}: unknown option backend.{key} (options: {known})", key)
    for key, (kind, default) in spec.items():
        if key not in options and default is ...:
            raise BackendError(f"backend {backend!r}: backend.{key} is required", key)
        value = options.get(key, default)
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise BackendError(f"backend {backend!r}: backend.{key} must be {kind.__name__}, got {value!r}", key)
        out[key] = value
    return out
