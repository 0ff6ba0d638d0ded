"""VibeNet as a kelly-jack backend that hears audio: valence and energy as valence and arousal.

VibeNet (pip ``vibenet``, GPL-3.0-or-later, by Jaeheon Shim) is an EfficientNet
distilled from a larger teacher on the Free Music Archive; it predicts seven
descriptors of a stretch of music from a 16 kHz log-mel spectrogram (128 bands,
hop 320). This backend runs its ONNX file (inside the vibenet wheel) with
onnxruntime on one thread, on the window kelly hands it (``window_s`` seconds,
every ``hop_s``), with VibeNet's own mel code, and gives its valence and energy
(0..1) as kelly's valence and arousal (-1..1).

Options: ``window_s`` (default 3.0, 1..30), ``hop_s`` (default 0.5, 0.05..window_s).
Runs on kelly's inference thread (onnxruntime releases the GIL); loading raises
BackendError with one line.
"""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np

from kelly_jack.backends.base import BackendBase, BackendError, take_options
from kelly_jack.hookspecs import BackendFactory, hookimpl

RATE = 16000  # VibeNet's sample rate


class VibeNet(BackendBase):
    name = "vibenet"
    input_kind = "audio"
    output_kind = "valence_arousal"
    output_size = 2

    def __init__(self, options):
        o = take_options(self.name, options, {"window_s": (float, 3.0), "hop_s": (float, 0.5)})
        if not (1.0 <= o["window_s"] <= 30.0 and 0.05 <= o["hop_s"] <= o["window_s"]):
            raise BackendError(f"backend 'vibenet': window_s 1..30 and hop_s 0.05..window_s, got {o}", "window_s")
        self.audio_rate = RATE
        self.audio_window = self.input_size = int(round(o["window_s"] * RATE))
        self.audio_hop = int(round(o["hop_s"] * RATE))
        try:
            import onnxruntime as ort

            with warnings.catch_warnings():  # pydub, imported by vibenet.core, warns when ffmpeg is absent
                warnings.simplefilter("ignore")
                import vibenet
                from vibenet.core import extract_mel
        except ImportError as e:
            raise BackendError(f"backend 'vibenet': needs the vibenet package ({e})") from None
        self._mel = extract_mel
        labels = list(vibenet.labels)
        self._valence, self._energy = labels.index("valence"), labels.index("energy")
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        model = resources.files("vibenet.artifacts") / "efficientnet_model.onnx"
        try:
            with resources.as_file(model) as path:
                self.session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BackendError(f"backend 'vibenet': cannot load {model}: {str(e).splitlines()[0]}") from None
        self.model_file = str(model)

    def infer(self, audio):
        mel = self._mel(np.asarray(audio, dtype=np.float32), RATE)
        logits = self.session.run(None, {"x": mel[np.newaxis, :]})[0][0]
        # VibeNet reads valence and energy as continuous 0..1 values (clipped logits)
        valence, energy = (float(np.clip(logits[i], 0.0, 1.0)) for i in (self._valence, self._energy))
        return np.array([2.0 * valence - 1.0, 2.0 * energy - 1.0])

    @property
    def metadata(self):
        return {
            "name": self.name,
            "layout_version": None,
            "emotion_mapping": None,
            "file": self.model_file,
            "hears": f"{self.audio_window / RATE:g} s of 16 kHz mono every {self.audio_hop / RATE:g} s",
            "training_data": "the Free Music Archive, distilled from a larger teacher (VibeNet 0.1.0)",
            "licence": "GPL-3.0-or-later",
        }


@hookimpl
def kelly_jack_backends():
    return [BackendFactory("vibenet", VibeNet, "VibeNet (GPL-3.0): hears 16 kHz audio; valence and energy")]
