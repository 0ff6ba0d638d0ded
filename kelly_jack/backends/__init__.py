"""Model backends: objects that turn one 128-float feature vector into 64 emotion logits.

The contract every backend meets (the pluggy plugin system builds on it):

* ``name`` (str), ``input_size`` (128) and ``output_size`` (64);
* ``infer(features) -> emotion``: one float32 vector in, 64 floats out; may
  raise or return non-finite values, which the inference thread drops and
  counts;
* ``reset()``: forget any streaming state.

``create_backend(name, options)`` builds a built-in backend from the config's
``backend`` block and raises ``BackendError`` (one line naming the backend and
the option) when the block is wrong. Backends never import the JACK layer:
they run offline and in training too.
"""

from __future__ import annotations

from typing import Any

from .base import Backend, BackendError, FunctionBackend
from .stubs import STUBS


def available_backends() -> list[str]:
    """Names accepted by ``create_backend``."""
    return sorted(STUBS)


def create_backend(name: str, options: dict[str, Any]) -> Backend:
    """A loaded, validated backend; raises BackendError."""
    factory = STUBS.get(name)
    if factory is None:
        raise BackendError(f"backend {name!r}: unknown (available: {', '.join(available_backends())})", "name")
    return factory(options)


__all__ = ["Backend", "BackendError", "FunctionBackend", "available_backends", "create_backend"]
