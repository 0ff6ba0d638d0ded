"""Evaluation of a model file on a labelled corpus: correlation, R^2, pairwise contrast accuracy.

The model is loaded with its real backend (``onnx`` for .onnx, ``rtneural``
for .json) and run on every feature frame of each clip; a clip's prediction is
the mean over its frames of the valence/arousal the live path derives (the
grid centroid), and, when the model ships one, of its learned mapping.

A contrast pair is two clips that differ in one cue only. For each dimension
where the label rules move the label by at least ``MIN_STEP`` (on -1..1), the
pair counts as ordered correctly when the model's prediction moves the same way.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..backends import BackendError, create_backend
from ..backends.base import BackendBase, softmax
from .dataset import Item, corpus_items, item_features
from .mlp import centroid
from .pipeline import pearson, r2

MIN_STEP = 0.1
DIMS = ("valence", "arousal")


def load_backend(model: str | Path) -> BackendBase:
    """A model file, by the backend that declares its suffix (.onnx: ``onnx``, .json: ``rtneural``), or a backend
    that needs no options by name (``heuristic``); raises BackendError."""
    from ..plugins import backend_for_file, load_plugins

    p = str(model)
    plugins = load_plugins()
    name = backend_for_file(p, plugins)
    if name is not None:
        return create_backend(name, {"model": p}, plugins)
    if Path(p).suffix or Path(p).exists():
        raise BackendError(f"{p}: no backend opens {Path(p).suffix or 'suffix-less'} model files", "model")
    return create_backend(p, {}, plugins)


def predict_clips(
    backend: BackendBase, items: list[Item], features: Callable[[Item], np.ndarray] = item_features
) -> dict[str, np.ndarray]:
    """Per clip (n, 2) valence/arousal: ``centroid`` always, ``mapped`` when the model has a learned mapping."""
    mapping = backend.metadata.get("emotion_mapping")
    out: dict[str, list] = {"centroid": []} | ({"mapped": []} if mapping is not None else {})
    for item in items:
        backend.reset()
        logits = np.asarray(backend.infer_block(features(item)), dtype=np.float64)
        out["centroid"].append(centroid(logits).mean(axis=0))
        if mapping is not None:
            out["mapped"].append((softmax(logits) @ np.asarray(mapping)[:2].T).mean(axis=0))
    return {k: np.array(v) for k, v in out.items()}


def read_pairs(path: Path) -> list[tuple[str, str, str]]:
    with open(path, newline="") as f:
        return [(r["song_low"], r["song_high"], r["cue"]) for r in csv.DictReader(f)]


def pairwise(pred: np.ndarray, items: list[Item], pairs: list[tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    """(correct, total) per ``cue/dimension`` and ``all``."""
    index = {it.song_id: i for i, it in enumerate(items)}
    truth = np.array([[it.valence, it.arousal] for it in items])
    tally: dict[str, list[int]] = {}
    for low, high, cue in pairs:
        a, b = index[low], index[high]
        for d, dim in enumerate(DIMS):
            step = truth[b, d] - truth[a, d]
            if abs(step) < MIN_STEP:
                continue
            ok = int(np.sign(pred[b, d] - pred[a, d]) == np.sign(step))
            for key in (f"{cue}/{dim}", "all"):
                t = tally.setdefault(key, [0, 0])
                t[0] += ok
                t[1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}


def evaluate(model: str | Path, corpus: str | Path, features: Callable[[Item], np.ndarray] = item_features) -> dict:
    """Metrics of ``model`` on the corpus folder ``corpus`` (annotations.csv, audio/, optional contrasts.csv).

    ``features`` computes a clip's frames (default: the extractor, uncached).
    """
    items = corpus_items(corpus)
    backend = load_backend(model)
    preds = predict_clips(backend, items, features)
    truth = np.array([[it.valence, it.arousal] for it in items])
    pairs_file = Path(corpus) / "contrasts.csv"
    pairs = read_pairs(pairs_file) if pairs_file.is_file() else []
    report: dict = {"model": str(model), "corpus": str(corpus), "clips": len(items), "pairs": len(pairs)}
    for name, pred in preds.items():
        m = {}
        for d, dim in enumerate(DIMS):
            m[f"{dim}_r"] = round(pearson(pred[:, d], truth[:, d]), 4)
            m[f"{dim}_r2"] = round(r2(pred[:, d], truth[:, d]), 4)
        m["pairwise"] = {k: list(v) for k, v in sorted(pairwise(pred, items, pairs).items())}
        report[name] = m
    return report


def table(report: dict) -> str:
    """The report as a Markdown table (one row per mapping) plus the pairwise breakdown."""
    lines = [
        "| mapping | valence r | valence R^2 | arousal r | arousal R^2 | pairwise |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("centroid", "mapped"):
        if name not in report:
            continue
        m = report[name]
        c, t = m["pairwise"].get("all", (0, 0))
        pw = f"{100.0 * c / t:.1f}% ({c}/{t})" if t else "n/a"
        lines.append(
            f"| {name} | {m['valence_r']:.3f} | {m['valence_r2']:.3f} | {m['arousal_r']:.3f} "
            f"| {m['arousal_r2']:.3f} | {pw} |"
        )
    m = report.get("centroid")
    if m and m["pairwise"]:
        lines += ["", "| contrast (centroid) | correct |", "| --- | --- |"]
        for k, (c, t) in m["pairwise"].items():
            if k != "all":
                lines.append(f"| {k} | {c}/{t} ({100.0 * c / t:.0f}%) |")
    return "\n".join(lines)
