"""Opening audio files and writing outputs safely, for the offline tools."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import KellyError


class AudioFileError(KellyError):
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


LONG_FILE_S = 30.0  # files at least this long get a progress bar (on a terminal)


def file_progress(description: str, frames: int, rate: int, show: bool | None = None):
    """A rich progress bar over ``frames`` on stderr, as a context manager yielding ``update(frames_done)``.

    ``show`` None: only for files of ``LONG_FILE_S`` or more when stderr is a terminal.
    """
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if show is None:
        show = console.is_terminal and frames >= LONG_FILE_S * rate
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))

    @contextmanager
    def bar():
        with Progress(*columns, TimeRemainingColumn(), console=console, disable=not show, transient=True) as p:
            task = p.add_task(description, total=max(frames, 1))
            yield lambda done: p.update(task, completed=min(done, frames))

    return bar()
