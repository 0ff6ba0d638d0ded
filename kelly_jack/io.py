"""Files: one way to write them atomically, one way to read audio, one error for an unusable audio file.

* ``atomic_write(path, data)`` / ``atomic_write_all([(path, data), ...])``: the
  one contract for every file kelly writes (outputs of render, features and
  ``model run``, the training corpus and reports, NSM's state file). Each
  file's bytes go to a temporary file beside it (``.NAME.XXXXXX.tmp``), which
  gets the permissions a plain ``open`` would give, then renames over it; the
  folders are made first. ``atomic_write_all`` renames only once every file
  is written. On any error no temporary file is left and no target changed
  (with several files, a rename that fails part way leaves the earlier ones
  replaced). ``durable=True`` also fsyncs each file before its rename.
* ``open_audio(path)``: a ``soundfile.SoundFile`` for block-by-block reading
  (render, features); ``read_audio(path, rate)``: a whole file as mono float32
  (training). Both raise ``AudioFileError``, one line naming the file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import KellyError


class AudioFileError(KellyError):
    """An audio file (or an output beside it) is unusable; ``str()`` is one line naming the file."""


def atomic_write(path: str | Path, data: bytes | str, *, durable: bool = False) -> None:
    """Replace ``path`` by ``data`` (str: UTF-8) all at once; raises OSError. See the module's contract."""
    atomic_write_all([(path, data)], durable=durable)


def atomic_write_all(files: Iterable[tuple[str | Path, bytes | str]], *, durable: bool = False) -> None:
    """Write every ``(path, data)`` to its temporary file, then rename them all; nothing is replaced on a failed
    write. Raises OSError."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            p = Path(path)
            temps.append((_temporary(p, data.encode() if isinstance(data, str) else data, durable), p))
        for tmp, p in temps:
            os.replace(tmp, p)
    except BaseException:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def _temporary(p: Path, data: bytes, durable: bool) -> str:
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def open_audio(src: str | Path):
    """A ``soundfile.SoundFile`` open for reading ``src`` (any format soundfile reads); raises AudioFileError."""
    import soundfile as sf

    src = Path(src)
    if not src.exists():
        raise AudioFileError(f"{src}: no such file")
    if src.is_dir():
        raise AudioFileError(f"{src}: is a directory, not an audio file")
    try:
        return sf.SoundFile(src)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError or TypeError by version
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioFileError(f"{src}: cannot read audio ({reason})") from None


def read_audio(path: str | Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 samples in -1..1, sample rate) of a whole file; channels are averaged.

    A WAV file is read as it is (``open_audio``); anything else is decoded by ffmpeg (DEAM ships MP3)
    at ``rate`` (default 48000). Raises AudioFileError.
    """
    p = Path(path)
    if p.suffix.lower() == ".wav":
        with open_audio(p) as f:
            data = f.read(dtype="float32", always_2d=True)
            return data.mean(axis=1).astype(np.float32), int(f.samplerate)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioFileError(f"{p}: only .wav is read without ffmpeg (apt-get install ffmpeg), or convert it to WAV")
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(p), "-f", "f32le", "-ac", "1", "-ar", str(rate or 48000), "-"],
        capture_output=True,
    )
    if out.returncode != 0:
        raise AudioFileError(f"{p}: ffmpeg cannot decode it: {out.stderr.decode(errors='replace').strip()[:200]}")
    return np.frombuffer(out.stdout, dtype="<f4").copy(), int(rate or 48000)
