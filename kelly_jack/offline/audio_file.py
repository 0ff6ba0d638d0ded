"""Opening audio files and writing outputs safely, for the offline tools."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class AudioFileError(Exception):
    """An input or output file is unusable; ``str()`` is one line naming the file."""


def open_audio(src: Path):
    """A ``soundfile.SoundFile`` open for reading ``src``; raises AudioFileError."""
    import soundfile as sf

    if not src.exists():
        raise AudioFileError(f"{src}: no such file")
    if src.is_dir():
        raise AudioFileError(f"{src}: is a directory, not an audio file")
    try:
        return sf.SoundFile(src)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError or TypeError by version
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioFileError(f"{src}: cannot read audio ({reason})") from None


def atomic_write(path: Path, write) -> Path:
    """Call ``write(binary file)`` on a temporary file beside ``path``; return its path (rename it yourself).

    On any exception the temporary file is removed, so nothing half-written is left.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)
