"""The ``kelly_jack.*`` metadata a model file carries, read the same way for every backend.

ONNX stores them as ``metadata_props`` strings, RTNeural JSON as top-level keys
with JSON values; both go through ``read``. Keys (all optional):

========================== =====================================================
``kelly_jack.layout_version`` feature layout the model was trained on (int)
``kelly_jack.sample_rate``    analysis rate in Hz (int)
``kelly_jack.window``         analysis window in frames at that rate (int)
``kelly_jack.hop``            frames between two feature frames (int)
``kelly_jack.mapping``        what the 64 outputs mean (text)
``kelly_jack.emotion_mapping`` 3x64 valence/arousal/dominance matrix (JSON)
``kelly_jack.training_data``  what the model was trained on (text)
``kelly_jack.input``          TFLite: ``features`` (default) or ``audio``: the model hears
                              mono audio; then sample_rate, window and hop are its
                              audio rate, window and hop (samples at that rate)
``kelly_jack.output``         TFLite: ``grid`` (default, 64 values) or ``valence_arousal``
``kelly_jack.state``          ONNX, TFLite: the recurrent state tensors, a JSON list of
                              ``[input name, output name]`` pairs; the onnx backend
                              feeds each output back into its input on the next
                              call and zeroes them on reset (``state``: None when absent)
========================== =====================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

PREFIX = "kelly_jack."
INTS = ("layout_version", "sample_rate", "window", "hop")
TEXTS = ("mapping", "training_data")
KINDS = {"input": ("features", "audio"), "output": ("grid", "valence_arousal")}


def read(props: Mapping[str, Any], kinds: bool = False) -> dict[str, Any]:
    """The known keys of ``props`` without the prefix (None when absent); ValueError names a bad key.

    ``kinds``: the backend runs models that hear audio or say valence/arousal (``input_kind`` and
    ``output_kind`` in the result); otherwise a file that declares either is refused.
    """
    out: dict[str, Any] = {}
    for name in INTS:
        raw = props.get(PREFIX + name)
        try:
            out[name] = None if raw is None else int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"metadata {PREFIX}{name}: expected an integer, got {raw!r}") from None
    for name in TEXTS:
        raw = props.get(PREFIX + name)
        out[name] = None if raw is None else str(raw)
    for name, allowed in KINDS.items():
        raw = props.get(PREFIX + name, allowed[0])
        if raw not in allowed:
            raise ValueError(f"metadata {PREFIX}{name}: {raw!r}, expected one of {', '.join(allowed)}")
        if raw != allowed[0] and not kinds:
            raise ValueError(
                f"metadata {PREFIX}{name}: {raw!r}: this backend runs {allowed[0]} models (tflite runs both)"
            )
        out[f"{name}_kind"] = raw
    raw = props.get(PREFIX + "emotion_mapping")
    if raw is None:
        out["emotion_mapping"] = None
    else:
        try:
            m = json.loads(raw) if isinstance(raw, str) else raw
            ok = np.asarray(m, dtype=np.float64).shape == (3, 64)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise ValueError(f"metadata {PREFIX}emotion_mapping: expected a 3x64 matrix")
        out["emotion_mapping"] = m
    out["state"] = _state_pairs(props.get(PREFIX + "state"))
    return out


def _state_pairs(raw) -> list[tuple[str, str]] | None:
    """``kelly_jack.state`` as (input, output) name pairs; ValueError unless a non-empty list of string pairs."""
    if raw is None:
        return None
    try:
        pairs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        pairs = None
    ok = (
        isinstance(pairs, list)
        and pairs
        and all(isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) and n for n in p) for p in pairs)
    )
    if not ok:
        raise ValueError(f"metadata {PREFIX}state: expected a list of [input name, output name] pairs, got {raw!r}")
    return [(p[0], p[1]) for p in pairs]
