#!/usr/bin/env python3
"""Evaluate a model file on a labelled corpus: Pearson r and R^2 per dimension, pairwise contrast accuracy.

    .venv/bin/python scripts/eval_emotion.py models/emotion.rtneural.json data/eval
    .venv/bin/python scripts/eval_emotion.py models/emotion.onnx data/eval --json eval.json
    .venv/bin/python scripts/eval_emotion.py heuristic data/eval      # the non-ML stub, for reference

The corpus is a make_corpus.py folder (the held-out ``--set eval`` one: instruments
and soundfont training never used); contrasts.csv, when present, gives the pairs.
``--cache DIR`` reuses (and fills) a feature cache folder of train_emotion.py
(keyed by audio file and layout version; keep it outside the repo). Prints a
Markdown table. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on these small matrices (6x slower measured on 2 busy cores)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
from pathlib import Path

from kelly_jack.backends.base import BackendError
from kelly_jack.io import AudioFileError, atomic_write
from kelly_jack.training.cache import ClipFeatures
from kelly_jack.training.dataset import DatasetError
from kelly_jack.training.evaluate import evaluate, table

GOALS = {"arousal_r": 0.8, "valence_r": 0.6, "pairwise": 0.9}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help=".onnx or RTNeural .json, or a backend name without options (heuristic)")
    ap.add_argument("corpus", type=Path, help="make_corpus.py folder")
    ap.add_argument("--json", type=Path, help="write the full report here")
    ap.add_argument("--cache", type=Path, help="feature cache folder (outside the repo)")
    a = ap.parse_args(argv)
    try:
        report = evaluate(a.model, a.corpus, ClipFeatures(a.cache))
    except (BackendError, DatasetError, AudioFileError, OSError, KeyError) as e:
        print(f"eval_emotion: {e}", file=sys.stderr)
        return 2
    print(f"{a.model} on {a.corpus}: {report['clips']} clips, {report['pairs']} contrast pairs\n")
    print(table(report))
    m = report["centroid"]
    c, t = m["pairwise"].get("all", (0, 0))
    print(
        f"\ngoals (centroid): arousal r {m['arousal_r']:.3f} >= {GOALS['arousal_r']}, "
        f"valence r {m['valence_r']:.3f} >= {GOALS['valence_r']}, "
        f"pairwise {(c / t if t else 0):.3f} >= {GOALS['pairwise']}"
    )
    if a.json:
        atomic_write(a.json, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
