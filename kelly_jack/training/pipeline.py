"""Training end to end: labelled clips -> feature frames -> held-out split -> network -> model files.

Used by ``scripts/train_emotion.py``; the steps are functions so tests can run
them on a tiny corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..backends.base import softmax
from . import export, gru
from .dataset import Item, item_features
from .features import ANALYSIS_RATE, HOP, WINDOW, layout_version
from .mlp import Network, TrainConfig, centroid, train

PREDICT_BLOCK = 65536  # frames per block when a one-hop network predicts a corpus (32 MB of float64 logits)


@dataclass
class Frames:
    x: np.ndarray  # (n, 128) float32
    va: np.ndarray  # (n, 2) each frame's label, -1..1: its clip's, or its clip's timeline's at the frame
    clip: np.ndarray  # (n,) index into the item list


def pick_frames(count: int, wanted: int) -> np.ndarray:
    """Indices of at most ``wanted`` evenly spaced frames out of ``count`` (all when ``wanted`` <= 0)."""
    if wanted <= 0 or count <= wanted:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, wanted).round().astype(int))


FeatureFn = Callable[[Item], np.ndarray]


def frames_of(
    items: list[Item], frames_per_clip: int, log=None, features: FeatureFn | list[FeatureFn] = item_features
) -> Frames:
    """Feature frames of every clip (evenly subsampled to ``frames_per_clip``), each with its label.

    A clip whose cues change part-way (``Item.segments``) labels each frame from its timeline at the end
    of the frame's analysis window (what the frame has heard up to); other clips give every frame the clip's
    label. ``features`` computes a clip's frames: one function for all, or one per item.
    """
    xs, vas, clips = RowBlocks(), [], []
    for i, item in enumerate(items):
        f = (features[i] if isinstance(features, list) else features)(item)
        picked = pick_frames(len(f), frames_per_clip)
        xs.add(f if len(picked) == len(f) else f[picked])
        vas.append(item.labels_at((picked * HOP + WINDOW) / ANALYSIS_RATE))
        clips.append(np.full(len(picked), i))
        if log and (i + 1) % 200 == 0:
            log(f"features: {i + 1}/{len(items)} clips")
    if not xs.rows:
        raise ValueError("no feature frames: the clips are shorter than one analysis window")
    return Frames(xs.array(), np.concatenate(vas), np.concatenate(clips))


class RowBlocks:
    """Rows appended into blocks of at least ``block_rows``, then one array: ``add(rows)``, ``array()``.

    A corpus's frames arrive as thousands of small per-clip arrays; kept until one ``np.concatenate``,
    their freed memory stays in the C heap (released from its top only), so the run holds the frames
    twice. Large blocks come from ``mmap`` and go back to the system when freed: ``array()`` copies
    them into the result one by one, letting each go, so the peak is the frames plus one block.
    """

    def __init__(self, block_rows: int = 1 << 17):
        self.block_rows = block_rows
        self.blocks: list[np.ndarray] = []
        self.fill = 0  # rows used in the last block
        self.rows = 0  # rows added in all

    def add(self, rows: np.ndarray) -> None:
        if not self.blocks or self.fill + len(rows) > len(self.blocks[-1]):
            self._close()
            self.blocks.append(np.empty((max(self.block_rows, len(rows)), *rows.shape[1:]), dtype=rows.dtype))
            self.fill = 0
        self.blocks[-1][self.fill : self.fill + len(rows)] = rows
        self.fill += len(rows)
        self.rows += len(rows)

    def _close(self) -> None:
        if self.blocks:
            self.blocks[-1] = self.blocks[-1][: self.fill]

    def array(self) -> np.ndarray:
        """All rows added (at least one ``add``), in order, as one array; the blocks are let go."""
        self._close()
        out = np.empty((self.rows, *self.blocks[0].shape[1:]), dtype=self.blocks[0].dtype)
        at = 0
        while self.blocks:
            block = self.blocks.pop(0)  # the previous block is freed here, before the next copy
            out[at : at + len(block)] = block
            at += len(block)
        self.fill = self.rows = 0
        return out


def split(n_items: int, share: float, seed: int, pairs: np.ndarray | None = None) -> np.ndarray:
    """A boolean mask over clips: True for the held-out (validation) clips; at least one of each side.

    ``pairs`` (m, 2) of clip indices (contrast pairs) are kept on one side: the high clip follows the low one.
    """
    rng = np.random.default_rng(seed + 1)
    k = min(max(1, int(round(n_items * share))), n_items - 1)
    mask = np.zeros(n_items, dtype=bool)
    mask[rng.permutation(n_items)[:k]] = True
    if pairs is not None and len(pairs):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        mask[pairs[:, 1]] = mask[pairs[:, 0]]
    return mask


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    ss = ((truth - truth.mean()) ** 2).sum()
    return float(1.0 - ((truth - pred) ** 2).sum() / ss) if ss > 0 else 0.0


def clip_predictions(net: Network | gru.GruNetwork, frames: Frames, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Per clip, the mean over its frames of (centroid V/A) and of (learned-map V/A): two (n_items, 2) arrays.

    A recurrent network runs each clip's frames in order from zero state (``frames`` holds every frame).
    Computed a clip (recurrent) or a block of frames (one-hop) at a time: the logits of every frame of
    a large corpus at once would take gigabytes (7.4 million frames: 3.8 GB, and as much again for
    each softmax).
    """
    sums = np.zeros((2, n_items, 2))

    def add(rows: slice, logits: np.ndarray) -> None:
        np.add.at(sums[0], frames.clip[rows], centroid(logits))
        np.add.at(sums[1], frames.clip[rows], softmax(logits) @ net.mapping[:2].T)

    if getattr(net, "recurrent", False):
        for group in _clip_groups(frames.clip):
            add(group, net.logits(frames.x[group]))
    else:
        for start in range(0, len(frames.x), PREDICT_BLOCK):
            rows = slice(start, start + PREDICT_BLOCK)
            add(rows, net.logits(frames.x[rows]))
    counts = np.maximum(np.bincount(frames.clip, minlength=n_items)[:, None], 1)
    return sums[0] / counts, sums[1] / counts


def _clip_groups(clip: np.ndarray) -> list[slice]:
    """The frames of each clip, in clip order, as slices (frames of a clip are contiguous and in time order in
    ``Frames``, so indexing with them gives views, not copies: the frames of a large corpus are gigabytes)."""
    if len(clip) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, clip[1:] != clip[:-1]])
    ends = np.r_[starts[1:], len(clip)]
    order = np.argsort(clip[starts], kind="stable")
    return [slice(int(starts[k]), int(ends[k])) for k in order]


def train_recurrent(
    frames: Frames,
    held: np.ndarray,
    cfg: gru.GruConfig,
    pairs: np.ndarray | None,
    log=None,
    relative_items: np.ndarray | None = None,
):
    """``gru.train`` on whole clips: the sequences of ``frames`` split by the held-out mask ``held`` (over items);
    ``pairs`` (m, 2) of item indices become pairs within each side; ``relative_items`` (bool per item) flags
    clips with relative labels."""
    if relative_items is None:
        relative_items = np.zeros(len(held), dtype=bool)
    seqs: dict[bool, list] = {False: [], True: []}
    tgts: dict[bool, list] = {False: [], True: []}
    relative: dict[bool, list] = {False: [], True: []}
    where: dict[int, tuple[bool, int]] = {}
    for group in _clip_groups(frames.clip):
        item = int(frames.clip[group.start])
        side = bool(held[item])
        where[item] = (side, len(seqs[side]))
        seqs[side].append(frames.x[group])
        relative[side].append(bool(relative_items[item]))
        labels = frames.va[group]
        # a clip whose label changes part-way is trained frame by frame on its timeline, others on the clip label
        tgts[side].append(labels if np.ptp(labels, axis=0).max() > 0 else labels[0])
    local: dict[bool, list] = {False: [], True: []}
    for lo, hi in np.zeros((0, 2), dtype=np.int64) if pairs is None else np.asarray(pairs).reshape(-1, 2):
        if int(lo) in where and int(hi) in where and where[int(lo)][0] == where[int(hi)][0]:
            local[where[int(lo)][0]].append((where[int(lo)][1], where[int(hi)][1]))
    return gru.train(
        seqs[False],
        tgts[False],
        seqs[True],
        tgts[True],
        cfg,
        log,
        np.array(local[False], dtype=np.int64).reshape(-1, 2),
        np.array(local[True], dtype=np.int64).reshape(-1, 2),
        np.array(relative[False], dtype=bool),
        np.array(relative[True], dtype=bool),
    )


@dataclass
class Result:
    net: Network | gru.GruNetwork
    config: TrainConfig | gru.GruConfig
    clips_train: int
    clips_val: int
    frames_train: int
    epochs: int
    feature_seconds: float
    train_seconds: float
    val_metrics: dict


def run(
    items: list[Item],
    cfg: TrainConfig | gru.GruConfig,
    frames_per_clip: int = 64,
    val_share: float = 0.15,
    log=None,
    features: FeatureFn = item_features,
    train_features: FeatureFn | None = None,
    pairs: np.ndarray | None = None,
    prepare: Callable[[np.ndarray], None] | None = None,
) -> Result:
    """Features, split by clip, training, and clip-level metrics on the held-out clips.

    ``features`` computes a clip's frames (e.g. a cached ``ClipFeatures``); ``train_features``,
    when given, is used for the training clips instead (e.g. augmented), the held-out clips
    keeping ``features``, so early stopping and the metrics see the audio as it is.
    ``pairs`` (m, 2) are contrast pairs as item indices (low, high): kept on one side of the
    split and given to the trainer's pair term. ``prepare``, when given, is called with the
    held-out mask before any features are read (e.g. to fill a feature cache in parallel);
    its time counts as feature time. A ``gru.GruConfig`` trains the recurrent network on every frame
    of each clip, in order (``frames_per_clip`` is ignored).
    """
    if len(items) < 2:
        raise ValueError(f"need at least 2 labelled clips, got {len(items)}")
    relative = np.array([it.relative for it in items], dtype=bool)
    if relative.any() and not isinstance(cfg, gru.GruConfig):
        raise ValueError("clips with relative labels (a stretch_recorded.py corpus) train the GRU only (--model gru)")
    held = split(len(items), val_share, cfg.seed, pairs)
    per_item = [features if h or train_features is None else train_features for h in held]
    t0 = time.perf_counter()
    if prepare is not None:
        prepare(held)
    recurrent = isinstance(cfg, gru.GruConfig)
    frames = frames_of(items, 0 if recurrent else frames_per_clip, log, per_item)
    t1 = time.perf_counter()
    is_val = held[frames.clip]
    if recurrent:
        net = train_recurrent(frames, held, cfg, pairs, log, relative)
    else:
        net = train(
            frames.x[~is_val],
            frames.va[~is_val],
            frames.x[is_val],
            frames.va[is_val],
            cfg,
            log,
            frames.clip[~is_val],
            frames.clip[is_val],
            pairs,
        )
    t2 = time.perf_counter()
    cen, mapped = clip_predictions(net, frames, len(items))
    truth = np.array([[it.valence, it.arousal] for it in items])
    metrics = {}
    scored = held & ~relative  # a relative label is no truth to correlate with
    for name, pred in (("centroid", cen), ("mapped", mapped)):
        for d, dim in enumerate(("valence", "arousal")):
            metrics[f"{name}_{dim}_r"] = round(pearson(pred[scored, d], truth[scored, d]), 4)
            metrics[f"{name}_{dim}_r2"] = round(r2(pred[scored, d], truth[scored, d]), 4)
    return Result(
        net,
        cfg,
        int((~held).sum()),
        int(held.sum()),
        int((~is_val).sum()),
        len(net.history),
        round(t1 - t0, 1),
        round(t2 - t1, 1),
        metrics,
    )


def save(result: Result, training: str, onnx_path: Path, json_path: Path) -> dict:
    """Write both model files; returns their metadata."""
    meta = export.metadata(
        result.net, layout_version=layout_version(), rate=ANALYSIS_RATE, window=WINDOW, hop=HOP, training=training
    )
    export.save(result.net, meta, onnx_path, json_path)
    return meta


def summary(result: Result) -> dict:
    return {
        "clips_train": result.clips_train,
        "clips_validation": result.clips_val,
        "frames_train": result.frames_train,
        "epochs": result.epochs,
        "val_loss": [h["val_loss"] for h in result.net.history],  # per epoch
        "feature_seconds": result.feature_seconds,
        "train_seconds": result.train_seconds,
        "validation": result.val_metrics,
        "model": "gru" if isinstance(result.config, gru.GruConfig) else "mlp",
        "config": asdict(result.config),
        "layout_version": layout_version(),
    }
