"""An audio-input backend over a whole file: its windows, at its rate, every hop (``kelly-jack model run``).

Main thread of a command; reads the file whole (a model author's tool, not the engine: the engine hands
windows to the backend on its inference thread, ``inference/audio_input.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import AudioFileError, open_audio


def audio_model_outputs(backend, src: Path) -> tuple[np.ndarray, np.ndarray]:
    """(end of each window in seconds, the backend's outputs for it) over the audio file ``src``.

    The file is mixed to mono and resampled with soxr to ``backend.audio_rate``; the windows of
    ``backend.audio_window`` samples end every ``backend.audio_hop`` samples, the first where the file
    first fills one. Raises AudioFileError for a file it cannot read or one shorter than a window.
    """
    import soxr

    with open_audio(src) as f:
        rate = f.samplerate
        audio = f.read(dtype="float32", always_2d=True).mean(axis=1)
    if rate != backend.audio_rate:
        audio = soxr.resample(audio, rate, backend.audio_rate, quality="HQ").astype(np.float32)
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    window, hop = backend.audio_window, backend.audio_hop
    if audio.size < window:
        seconds = window / backend.audio_rate
        raise AudioFileError(
            f"{src}: {audio.size / backend.audio_rate:.2f} s is shorter than one window ({seconds:g} s)"
        )
    ends = np.arange(window, audio.size + 1, hop)
    backend.reset()
    outputs = np.stack([np.asarray(backend.infer(audio[e - window : e]), dtype=np.float32).reshape(-1) for e in ends])
    return ends / backend.audio_rate, outputs
