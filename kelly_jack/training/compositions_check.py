"""The composition check: does valence rank major-key pieces above minor-key ones on real compositions?

``run(...)`` lists the pieces of ``compositions.SOURCES``, labels each excerpt's mode from its
score (``compositions_key``: the Krumhansl-Kessler estimate, or with ``label="signature"`` the
file's key signature), keeps the pieces whose label is clear, renders them with FluidR3 and
measures every model on every rendering. A model trained on another feature layout than
the extractor's is refused (``check_layout_version``), as kelly refuses it. A model's value of
a piece is the mean over the hops whose window ends at or after the 8 s warm-up
(``recorded_measure.warmup_hops``) of the per-hop valence (grid centroid, kelly's default
mapping), from features computed once per rendering by ``features.clip_features`` and logits
from the model's own backend (``evaluate.load_backend``;
``reset()`` then ``infer_block`` over the hops in order, so a recurrent model runs as it streams).

Figures per model, over the kept pieces: mean valence of the major and of the minor pieces,
``auc`` (the probability that a random major piece has higher valence than a random minor one,
ties counting half, counted exactly over all pairs), a 95 % bootstrap interval of it (pieces of
each mode resampled with replacement, ``BOOTSTRAP`` draws, fixed seed), and the same AUC within
each package that has pieces of both modes (the packages differ in style, which could otherwise
stand in for mode). ``agreement`` counts, over pieces with a key signature, how often its mode
is the estimate's mode (and its tonic too).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..backends.base import BackendError, check_layout_version
from ..io import read_audio
from .compositions import MIN_SECONDS, SOURCES, CompositionError, Source, excerpt, pieces, render, render_folder
from .compositions_key import NAMES, clear, estimate, histogram, key_signature
from .evaluate import load_backend
from .features import ANALYSIS_RATE, clip_features, layout_version
from .mlp import centroid
from .recorded_measure import WARMUP_SECONDS, warmup_hops

MIN_MARGIN = 0.1  # best major minus best minor correlation, either way, for a piece to count
BOOTSTRAP = 2000
LABELS = ("score", "signature")


def auc(major: np.ndarray, minor: np.ndarray) -> float:
    """P(a random major value > a random minor value), ties half, over all pairs; nan when a side is empty."""
    a, b = np.asarray(major, dtype=np.float64), np.asarray(minor, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    d = a[:, None] - b[None, :]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def bootstrap_auc(major: np.ndarray, minor: np.ndarray, draws: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """The 2.5 and 97.5 percentiles of ``auc`` over ``draws`` resamplings (with replacement) of each side."""
    a, b = np.asarray(major, dtype=np.float64), np.asarray(minor, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = [auc(rng.choice(a, len(a)), rng.choice(b, len(b))) for _ in range(draws)]
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def valence(backend, frames: np.ndarray) -> float:
    """Mean per-hop valence (grid centroid) after the warm-up, the backend reset first."""
    start = warmup_hops()
    backend.reset()
    logits = np.asarray(backend.infer_block(frames), dtype=np.float64)
    return float(centroid(logits)[start:, 0].mean())


def label_piece(mid, ns, start: float, length: float, label: str, min_margin: float) -> dict:
    """The score estimate, the key signature and the label (``mode``; None when not clear) of one excerpt."""
    key = estimate(histogram(ns, start, length))
    sig = key_signature(mid, start)
    row = {
        "estimate": key.name,
        "r_major": round(key.r_major, 4),
        "r_minor": round(key.r_minor, 4),
        "margin": round(key.margin, 4),
        "signature": f"{NAMES[sig[0]]} {sig[1]}" if sig else None,
        "sig_mode_agrees": None if sig is None else sig[1] == key.mode,
        "sig_key_agrees": None if sig is None else (sig[1] == key.mode and sig[0] == key.tonic),
    }
    if label == "score":
        row["mode"] = key.mode if clear(key, min_margin) else None
    else:
        row["mode"] = sig[1] if sig else None
    return row


def figures(rows: list[dict], model: str) -> dict:
    """Mean valence per mode, AUC with its bootstrap interval, and AUC per package, for one model."""
    maj = np.array([r["valence"][model] for r in rows if r["mode"] == "major"])
    mnr = np.array([r["valence"][model] for r in rows if r["mode"] == "minor"])
    lo, hi = bootstrap_auc(maj, mnr)
    per_pkg = {}
    for pkg in sorted({r["package"] for r in rows}):
        a = [r["valence"][model] for r in rows if r["package"] == pkg and r["mode"] == "major"]
        b = [r["valence"][model] for r in rows if r["package"] == pkg and r["mode"] == "minor"]
        if a and b:
            per_pkg[pkg] = {"major": len(a), "minor": len(b), "auc": round(auc(np.array(a), np.array(b)), 4)}
    return {
        "mean_major": round(float(maj.mean()), 4) if len(maj) else None,
        "mean_minor": round(float(mnr.mean()), 4) if len(mnr) else None,
        "auc": round(auc(maj, mnr), 4),
        "auc_95": [round(lo, 4), round(hi, 4)],
        "auc_per_package": per_pkg,
    }


def run(
    models: list[str],
    cache: Path,
    seconds: float = 30.0,
    offset: float = 0.0,
    rms_db: float = -30.0,
    min_margin: float = MIN_MARGIN,
    label: str = "score",
    sources: tuple[Source, ...] = SOURCES,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """The report: settings, packages, one row per piece (kept or not) and ``figures`` per model."""
    if label not in LABELS:
        raise CompositionError(f"label {label!r}: expected one of {', '.join(LABELS)}")
    backends = {}
    for m in models:
        try:
            backends[m] = load_backend(m)
            check_layout_version(backends[m], m, layout_version())
        except (OSError, BackendError) as e:
            raise CompositionError(f"model {m}: {e}") from None
    folder = render_folder(cache, seconds, offset, rms_db)
    rows, packages = [], []
    for src in sources:
        found = pieces(src, cache)
        packages.append({"name": src.name, "version": found[0].version, "licence": src.licence, "music": src.music})
        for p in found:
            mid, ns, start, length = excerpt(p.path, seconds, offset)
            row = {"package": p.package, "piece": p.relpath, "start": round(start, 3), "seconds": round(length, 3)}
            row |= label_piece(mid, ns, start, length, label, min_margin)
            if length < MIN_SECONDS:
                row["mode"], row["dropped"] = None, f"shorter than {MIN_SECONDS:g} s"
            elif row["mode"] is None:
                row["dropped"] = "no key signature" if label == "signature" else f"|margin| < {min_margin:g}"
            if row["mode"] is not None:
                wav = render(mid, start, length, folder / f"{p.key}.wav", rms_db)
                x, rate = read_audio(wav)
                frames = clip_features(x, rate)
                row["valence"] = {m: round(valence(b, frames), 4) for m, b in backends.items()}
                log(f"{p.key}: {row['estimate']} ({row['margin']:+.2f}) valence {list(row['valence'].values())}")
            rows.append(row)
    kept = [r for r in rows if r["mode"] is not None]
    with_sig = [r for r in rows if r["signature"] is not None]
    return {
        "settings": {
            "seconds": seconds,
            "offset": offset,
            "rms_db": rms_db,
            "label": label,
            "min_margin": min_margin,
            "min_seconds": MIN_SECONDS,
            "warmup_seconds": WARMUP_SECONDS,
            "soundfont": "FluidR3_GM (fluid-soundfont-gm)",
            "rate": ANALYSIS_RATE,
            "layout": layout_version(),
        },
        "packages": packages,
        "counts": {
            "pieces": len(rows),
            "major": sum(r["mode"] == "major" for r in kept),
            "minor": sum(r["mode"] == "minor" for r in kept),
            "dropped": len(rows) - len(kept),
        },
        "agreement": {
            "with_signature": len(with_sig),
            "mode": sum(bool(r["sig_mode_agrees"]) for r in with_sig),
            "key": sum(bool(r["sig_key_agrees"]) for r in with_sig),
        },
        "models": {m: figures(kept, m) for m in models},
        "pieces": rows,
    }


def table(report: dict) -> str:
    """The figures per model, then the pieces, as Markdown."""
    c, g = report["counts"], report["agreement"]
    lines = [
        f"{c['pieces']} pieces: {c['major']} major, {c['minor']} minor kept, {c['dropped']} dropped. "
        f"Key signature present in {g['with_signature']}: its mode agrees with the score estimate in {g['mode']}, "
        f"mode and tonic in {g['key']}.",
        "",
        "| model | mean valence major | mean valence minor | AUC major > minor | 95 % bootstrap | per package |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m, f in report["models"].items():
        pkg = "; ".join(f"{k} {v['auc']:.2f} ({v['major']}/{v['minor']})" for k, v in f["auc_per_package"].items())
        lines.append(
            f"| {m} | {f['mean_major']} | {f['mean_minor']} | {f['auc']:.3f} "
            f"| {f['auc_95'][0]:.3f}..{f['auc_95'][1]:.3f} | {pkg} |"
        )
    models = list(report["models"])
    lines += [
        "",
        "| piece | estimate | margin | signature | mode | "
        + " | ".join(f"valence {i + 1}" for i in range(len(models)))
        + " |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in models) + " |",
    ]
    for r in report["pieces"]:
        vals = [f"{r['valence'][m]:+.3f}" if "valence" in r else "" for m in models]
        mode = r["mode"] or f"({r.get('dropped', '')})"
        lines.append(
            f"| {r['package']}: {Path(r['piece']).stem} | {r['estimate']} | {r['margin']:+.2f} "
            f"| {r['signature'] or ''} | {mode} | " + " | ".join(vals) + " |"
        )
    lines += ["", "Valence columns: " + ", ".join(f"{i + 1} = {m}" for i, m in enumerate(models))]
    return "\n".join(lines)
