"""Writing the training corpus's mono 16-bit WAV files (atomically). Reading audio is ``kelly_jack.io.read_audio``."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from ..io import atomic_write


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono 16-bit PCM (samples clipped to -1..1), through a temporary file and a rename."""
    pcm = (np.clip(np.nan_to_num(samples), -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    atomic_write(path, buf.getvalue())
