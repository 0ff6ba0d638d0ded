"""An example kelly-jack plugin: the ``linear-npz`` backend (emotion = W @ features + b)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kelly_jack.backends.base import EMOTIONS, FEATURES, BackendBase, BackendError, take_options
from kelly_jack.hookspecs import BackendFactory, hookimpl


class LinearNpz(BackendBase):
    """A linear model from an .npz file holding W (64 x 128) and b (64)."""

    name = "linear-npz"

    def __init__(self, options):
        o = take_options(self.name, options, {"model": (str, ...)})
        path = Path(o["model"])
        try:
            with np.load(path) as f:
                self.w = np.asarray(f["W"], dtype=np.float32)
                self.b = np.asarray(f["b"], dtype=np.float32)
        except FileNotFoundError:
            raise BackendError(f"backend {self.name!r}: {path}: no such file", "model") from None
        except KeyError as e:
            raise BackendError(f"backend {self.name!r}: {path}: missing array {e}", "model") from None
        except (OSError, ValueError) as e:
            raise BackendError(f"backend {self.name!r}: {path}: not an .npz file ({e})", "model") from None
        if self.w.shape != (EMOTIONS, FEATURES) or self.b.shape != (EMOTIONS,):
            shapes = f"W is {self.w.shape} and b {self.b.shape}"
            raise BackendError(f"backend {self.name!r}: {path}: {shapes}, expected (64, 128) and (64,)", "model")

    def infer(self, features):
        return self.w @ features + self.b

    def infer_block(self, block):
        return np.asarray(block, dtype=np.float32).reshape(-1, FEATURES) @ self.w.T + self.b


@hookimpl
def kelly_jack_backends():
    return [BackendFactory("linear-npz", LinearNpz, "example plugin: a linear model from an .npz file")]
