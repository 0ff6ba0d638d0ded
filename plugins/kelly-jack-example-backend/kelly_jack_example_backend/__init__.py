"""An example kelly-jack plugin with a backend of each input kind.

* ``linear-npz`` hears kelly's 128 features and gives the 64 grid values:
  emotion = W @ features + b, from an .npz file.
* ``onset-rate`` hears audio (mono float32 at the rate it names, a window and
  a hop of its own) and gives valence and arousal directly: arousal from how
  many note onsets a second the window holds. It is a demonstration of the
  audio-input contract, not a model: it knows nothing of valence (always 0).
"""

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


class OnsetRate(BackendBase):
    """Arousal from the onset rate of the last ``window_s`` seconds, heard at ``rate`` Hz every ``hop_s`` seconds.

    What an audio-input backend declares: ``input_kind = "audio"``, ``audio_rate``
    (Hz), ``audio_window`` and ``audio_hop`` (samples at that rate; ``input_size``
    is the window); ``output_kind = "valence_arousal"`` with ``output_size`` 2 (or
    3 with dominance). kelly calls ``infer`` on its inference thread with the
    window that ends at the newest hop, resampled from the server's rate.
    """

    name = "onset-rate"
    input_kind = "audio"
    output_kind = "valence_arousal"
    output_size = 2

    def __init__(self, options):
        spec = {"rate": (int, 16000), "window_s": (float, 2.0), "hop_s": (float, 0.5), "busy_per_s": (float, 8.0)}
        o = take_options(self.name, options, spec)
        if not (0.1 <= o["window_s"] <= 30.0 and 0.01 <= o["hop_s"] <= o["window_s"]):
            raise BackendError(f"backend {self.name!r}: window_s 0.1..30 and hop_s 0.01..window_s, got {o}", "window_s")
        self.audio_rate = o["rate"]
        self.audio_window = self.input_size = int(round(o["window_s"] * o["rate"]))
        self.audio_hop = int(round(o["hop_s"] * o["rate"]))
        self.frame = max(1, o["rate"] // 100)  # 10 ms energy frames
        self.busy = o["busy_per_s"]  # onsets a second heard as the most aroused

    def infer(self, audio):
        x = np.asarray(audio, dtype=np.float64)
        frames = x[: x.size // self.frame * self.frame].reshape(-1, self.frame)
        level = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-10)
        # a frame 10 dB above the quietest of the 5 before it (50 ms), within 40 dB of the loudest: relative, so
        # the input gain does not matter; an onset is where such frames begin
        before = np.lib.stride_tricks.sliding_window_view(level[:-1], 5).min(axis=1)
        hot = (level[5:] - before >= 10.0) & (level[5:] > level.max() - 40.0)
        onsets = np.count_nonzero(hot[1:] & ~hot[:-1]) + int(hot[0])
        per_s = onsets / (x.size / self.audio_rate)
        return np.array([0.0, np.clip(2.0 * per_s / self.busy - 1.0, -1.0, 1.0)])


@hookimpl
def kelly_jack_backends():
    return [
        BackendFactory("linear-npz", LinearNpz, "example plugin: a linear model from an .npz file"),
        BackendFactory("onset-rate", OnsetRate, "example plugin: hears audio; arousal from the onset rate"),
    ]
