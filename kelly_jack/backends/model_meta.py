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


def read(props: Mapping[str, Any]) -> dict[str, Any]:
    """The known keys of ``props`` without the prefix (None when absent); ValueError names a bad key."""
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
    return out
