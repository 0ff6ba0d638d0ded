"""Mono WAV files: reading (any PCM width, any rate, channels mixed) and atomic writing (16-bit).

Other formats (DEAM ships MP3) are decoded by ``ffmpeg`` when it is installed.
Errors are ``AudioError`` with one line naming the file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from ..errors import KellyError
from .files import atomic_write


class AudioError(KellyError):
    """An audio file could not be read or written; ``str()`` is one line naming it."""


def read_audio(path: str | Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 samples in -1..1, sample rate) of a WAV file, or of anything ffmpeg decodes.

    ``rate`` is only used for non-WAV files, which ffmpeg decodes at that rate.
    """
    p = Path(path)
    if p.suffix.lower() == ".wav":
        return _read_wav(p)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{p}: only .wav is read without ffmpeg (apt-get install ffmpeg), or convert it to WAV")
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(p), "-f", "f32le", "-ac", "1", "-ar", str(rate or 48000), "-"],
        capture_output=True,
    )
    if out.returncode != 0:
        raise AudioError(f"{p}: ffmpeg cannot decode it: {out.stderr.decode(errors='replace').strip()[:200]}")
    return np.frombuffer(out.stdout, dtype="<f4").copy(), int(rate or 48000)


def _read_wav(p: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (OSError, EOFError, wave.Error) as e:
        raise AudioError(f"{p}: not a readable PCM WAV file ({e})") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise AudioError(f"{p}: unsupported sample width of {width} bytes")
    return data.reshape(-1, channels).mean(axis=1).astype(np.float32), rate


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
