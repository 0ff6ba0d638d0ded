"""Labelled clips in DEAM's or PMEmo's static-annotation format, and their feature frames.

* DEAM: ``song_id, valence_mean, valence_std, arousal_mean, arousal_std`` on the
  1..9 scale (headers may carry spaces, as DEAM's own files do); audio ``<song_id>.mp3``.
* PMEmo: ``musicId, Arousal(mean), Valence(mean)`` on 0..1; audio ``<musicId>.mp3``.
* This project's corpus is DEAM-format with WAV audio (``make_corpus.py``).

Labels are returned on -1..1. Audio is found as ``<id>`` plus .wav, .mp3,
.flac or .ogg in the audio folder. Errors are ``DatasetError`` naming the file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import AudioError, read_audio
from .features import ANALYSIS_RATE, clip_features

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")


class DatasetError(Exception):
    """Unreadable annotations or audio; ``str()`` is one line naming the file (and row or column)."""


@dataclass(frozen=True)
class Item:
    song_id: str
    valence: float  # -1..1
    arousal: float
    audio: Path


def read_annotations(csv_path: str | Path, audio_dir: str | Path) -> list[Item]:
    """The labelled clips of a DEAM- or PMEmo-format CSV whose audio is in ``audio_dir``."""
    path, audio = Path(csv_path), Path(audio_dir)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read it ({e})") from None
    if not rows:
        raise DatasetError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if {"song_id", "valence_mean", "arousal_mean"} <= set(header):
        key, vcol, acol = "song_id", "valence_mean", "arousal_mean"

        def to_unit(x: float) -> float:
            return (x - 5.0) / 4.0

    elif {"musicId", "Arousal(mean)", "Valence(mean)"} <= set(header):
        key, vcol, acol = "musicId", "Valence(mean)", "Arousal(mean)"

        def to_unit(x: float) -> float:
            return 2.0 * x - 1.0

    else:
        raise DatasetError(
            f"{path}: not a DEAM (song_id, valence_mean, arousal_mean) or PMEmo "
            f"(musicId, Arousal(mean), Valence(mean)) static annotation file; columns: {', '.join(header)}"
        )
    ik, iv, ia = header.index(key), header.index(vcol), header.index(acol)
    items = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            sid, v, a = row[ik].strip(), float(row[iv]), float(row[ia])
        except (IndexError, ValueError):
            raise DatasetError(f"{path}:{line}: expected {key}, {vcol}, {acol}, got {row!r}") from None
        if not (np.isfinite(v) and np.isfinite(a)):
            raise DatasetError(f"{path}:{line}: non-finite label")
        file = next((audio / f"{sid}{s}" for s in AUDIO_SUFFIXES if (audio / f"{sid}{s}").is_file()), None)
        if file is None:
            raise DatasetError(f"{path}:{line}: no audio for {key} {sid} in {audio} ({', '.join(AUDIO_SUFFIXES)})")
        items.append(Item(sid, float(np.clip(to_unit(v), -1, 1)), float(np.clip(to_unit(a), -1, 1)), file))
    if not items:
        raise DatasetError(f"{path}: no labelled rows")
    return items


def corpus_items(corpus_dir: str | Path) -> list[Item]:
    """A corpus folder of ``make_corpus.py``: annotations.csv and audio/."""
    d = Path(corpus_dir)
    return read_annotations(d / "annotations.csv", d / "audio")


def item_audio(item: Item) -> tuple[np.ndarray, int]:
    """One clip's mono samples and their rate (``read_audio`` at ANALYSIS_RATE); raises DatasetError."""
    try:
        return read_audio(item.audio, ANALYSIS_RATE)
    except AudioError as e:
        raise DatasetError(str(e)) from None


def item_features(item: Item) -> np.ndarray:
    """Feature frames (frames, 128) of one clip."""
    return clip_features(*item_audio(item))
