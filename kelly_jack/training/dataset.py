"""Labelled clips in DEAM's or PMEmo's static-annotation format, and their feature frames.

* DEAM: ``song_id, valence_mean, valence_std, arousal_mean, arousal_std`` on the
  1..9 scale (headers may carry spaces, as DEAM's own files do); audio ``<song_id>.mp3``.
* PMEmo: ``musicId, Arousal(mean), Valence(mean)`` on 0..1; audio ``<musicId>.mp3``.
* This project's corpus is DEAM-format with WAV audio (``make_corpus.py``); an arranged corpus
  adds ``segments.csv``, each clip's label timeline (``song_id, start_s, end_s, valence,
  arousal`` on 1..9): ``corpus_items`` gives its clips a ``segments`` timeline, ``Item.labels_at``
  reads it (clips without one keep their static label at every time).
* A corpus whose ``corpus.json`` says ``"labels": "relative"`` (``stretch_recorded.py``: unlabelled
  recordings in consistency pairs) gives items with ``relative=True``: their labels mean something
  only as differences within their contrast pairs.

Labels are returned on -1..1. Audio is found as ``<id>`` plus .wav, .mp3,
.flac or .ogg in the audio folder. Errors are ``DatasetError`` naming the file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import KellyError
from ..io import AudioFileError, read_audio
from .features import ANALYSIS_RATE, clip_features

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")


class DatasetError(KellyError):
    """Unreadable annotations or audio; ``str()`` is one line naming the file (and row or column)."""


@dataclass(frozen=True)
class Item:
    song_id: str
    valence: float  # -1..1, the clip's label (a timeline's time-weighted mean)
    arousal: float
    audio: Path
    # label timeline: (start_s, end_s, valence, arousal) on -1..1, contiguous from 0; () = static label
    segments: tuple[tuple[float, float, float, float], ...] = ()
    relative: bool = False  # only the label's difference to its contrast-pair partner means anything

    def labels_at(self, times: np.ndarray) -> np.ndarray:
        """(len(times), 2) valence and arousal (-1..1) at ``times`` (seconds from the clip's start).

        A time before the first segment takes the first one's label, after the last the last one's;
        without a timeline every row is the static label.
        """
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        if not self.segments:
            return np.tile(np.array([self.valence, self.arousal]), (len(t), 1))
        starts = np.array([s[0] for s in self.segments])
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        return np.array([[s[2], s[3]] for s in self.segments])[k]


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


def read_segments(csv_path: str | Path) -> dict[str, tuple[tuple[float, float, float, float], ...]]:
    """Label timelines by song_id from a segments.csv (see the module doc), labels on -1..1.

    Each clip's rows must be contiguous in time, start at 0 and have end_s > start_s; labels on 1..9.
    """
    path = Path(csv_path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read it ({e})") from None
    want = ["song_id", "start_s", "end_s", "valence", "arousal"]
    if not rows or [h.strip() for h in rows[0]] != want:
        raise DatasetError(f"{path}: expected the columns {', '.join(want)}")
    out: dict[str, list[tuple[float, float, float, float]]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            sid = row[0].strip()
            t0, t1, v, a = (float(x) for x in row[1:5])
        except (IndexError, ValueError):
            raise DatasetError(f"{path}:{line}: expected {', '.join(want)}, got {row!r}") from None
        if not all(np.isfinite((t0, t1, v, a))) or t1 <= t0 or not (1.0 <= v <= 9.0 and 1.0 <= a <= 9.0):
            raise DatasetError(f"{path}:{line}: needs start_s < end_s and labels on 1..9, got {row!r}")
        prev = out.setdefault(sid, [])
        if abs((prev[-1][1] if prev else 0.0) - t0) > 1e-3:
            raise DatasetError(f"{path}:{line}: song_id {sid} starts at {t0} s, not where its timeline ends")
        prev.append((t0, t1, (v - 5.0) / 4.0, (a - 5.0) / 4.0))
    return {k: tuple(v) for k, v in out.items()}


def corpus_items(corpus_dir: str | Path) -> list[Item]:
    """A corpus folder of ``make_corpus.py``: annotations.csv and audio/ (and segments.csv when it has one)."""
    d = Path(corpus_dir)
    items = read_annotations(d / "annotations.csv", d / "audio")
    if _labels_kind(d) == "relative":
        items = [replace(it, relative=True) for it in items]
    if not (d / "segments.csv").is_file():
        return items
    timelines = read_segments(d / "segments.csv")
    unknown = sorted(set(timelines) - {it.song_id for it in items})
    if unknown:
        raise DatasetError(f"{d / 'segments.csv'}: song_id {unknown[0]} is not in annotations.csv")
    return [replace(it, segments=timelines.get(it.song_id, ())) for it in items]


def _labels_kind(d: Path) -> str:
    """``corpus.json``'s ``labels`` ("absolute" when it has none or there is no corpus.json)."""
    path = d / "corpus.json"
    if not path.is_file():
        return "absolute"
    try:
        kind = json.loads(path.read_text()).get("labels", "absolute")
    except (OSError, ValueError, AttributeError) as e:
        raise DatasetError(f"{path}: cannot read it ({e})") from None
    if kind not in ("absolute", "relative"):
        raise DatasetError(f"{path}: labels is {kind!r}, expected 'absolute' or 'relative'")
    return kind


def item_audio(item: Item) -> tuple[np.ndarray, int]:
    """One clip's mono samples and their rate (``read_audio`` at ANALYSIS_RATE); raises DatasetError."""
    try:
        return read_audio(item.audio, ANALYSIS_RATE)
    except AudioFileError as e:
        raise DatasetError(str(e)) from None


def item_features(item: Item) -> np.ndarray:
    """Feature frames (frames, 128) of one clip."""
    return clip_features(*item_audio(item))
