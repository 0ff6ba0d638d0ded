"""Feature frames of labelled clips, optionally augmented, optionally cached on disk and computed in parallel.

``ClipFeatures(cache_dir, augment)`` is a callable ``Item -> (frames, 128) float32``.
With a cache folder, each clip's frames are stored as ``<key>.npy`` where the key
hashes the audio file (resolved path, size, modification time), the extractor's
layout version, window and hop, and the augmentation (``Augment.key()``, or none):
a changed file, layout or augmentation is a new key, never a stale hit. Files are
written to a temporary name and renamed, so parallel or interrupted runs leave no
half-written entry. The cache is a folder the user names (never inside the repo).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .augment import Augment, equalise
from .dataset import Item, item_audio
from .features import HOP, WINDOW, clip_features, layout_version


def cache_key(item: Item, augment: Augment | None) -> str:
    """The cache file stem of ``item``'s features under ``augment``."""
    p = Path(item.audio).resolve()
    st = p.stat()
    aug = augment.key() if augment else "none"
    text = f"{p}|{st.st_size}|{st.st_mtime_ns}|layout{layout_version()}|{WINDOW}|{HOP}|{aug}"
    return hashlib.sha1(text.encode()).hexdigest()


def compute(item: Item, augment: Augment | None) -> np.ndarray:
    """Feature frames of one clip, its audio equalised by ``augment`` first when given."""
    samples, rate = item_audio(item)
    if augment is not None:
        samples = equalise(samples, rate, augment, item.song_id)
    return clip_features(samples, rate)


class ClipFeatures:
    """Features of clips: ``self(item)``; cached in ``folder`` when given; ``prepare`` fills it in parallel."""

    def __init__(self, folder: str | Path | None = None, augment: Augment | None = None):
        self.folder = Path(folder) if folder else None
        self.augment = augment
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, item: Item) -> Path | None:
        return self.folder / f"{cache_key(item, self.augment)}.npy" if self.folder else None

    def __call__(self, item: Item) -> np.ndarray:
        path = self._path(item)
        if path is not None and path.is_file():
            try:
                return np.load(path)
            except (OSError, ValueError):
                pass  # unreadable entry: recompute and overwrite it
        frames = compute(item, self.augment)
        if path is not None:
            buf = io.BytesIO()
            np.save(buf, frames)
            atomic_write(path, buf.getvalue())
        return frames

    def prepare(self, items: list[Item], jobs: int, log: Callable[[str], None] | None = None) -> None:
        """Compute the missing cache entries of ``items`` in ``jobs`` processes (no-op without a folder or jobs < 2)."""
        if self.folder is None or jobs < 2:
            return
        missing = [it for it in items if not self._path(it).is_file()]
        if not missing:
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for k, _ in enumerate(pool.map(_fill, [(self.folder, self.augment, it) for it in missing], chunksize=8)):
                if log and (k + 1) % 200 == 0:
                    log(f"features: {k + 1}/{len(missing)} clips computed")


def _fill(args: tuple[Path, Augment | None, Item]) -> None:
    folder, augment, item = args
    ClipFeatures(folder, augment)(item)
