#!/usr/bin/env python3
"""Tempo-stretched contrast pairs from a rendered corpus (rubberband, pitch kept): training clips only.

    .venv/bin/python scripts/stretch_corpus.py data/arr-a data/arr-stretch --clips 600 --seed 16

Each picked clip of SOURCE (a make_corpus.py folder; clips whose cues hold and whose tempo stays
within the label rule's 60..180 BPM at 0.8x and 1.25x) is played at 0.8x and 1.25x speed with
rubberband (apt: rubberband-cli); the two are a ``tempo`` contrast pair labelled by the tempo rule
(kelly_jack/training/stretch.py; models/README.md, "Data"). Writes OUT/audio/<id>.wav,
OUT/annotations.csv, OUT/contrasts.csv and OUT/corpus.json. Never give it the development or
evaluation sets, nor recorded music. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from kelly_jack.training.stretch import StretchError, make  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="make_corpus.py folder")
    ap.add_argument("out", type=Path, help="output folder (must not hold a corpus)")
    ap.add_argument("--clips", type=int, default=600, help="clips to stretch (default 600: 600 pairs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="rubberband processes at once (default 2)")
    a = ap.parse_args(argv)
    if a.clips < 1:
        print(f"stretch_corpus: --clips must be 1 or more, got {a.clips}", file=sys.stderr)
        return 2
    if (a.out / "annotations.csv").exists():
        print(
            f"stretch_corpus: {a.out} already holds a corpus (annotations.csv); choose another folder", file=sys.stderr
        )
        return 2
    try:
        n = make(a.source, a.out, a.clips, a.seed, a.jobs, log=lambda m: print(f"stretch_corpus: {m}", file=sys.stderr))
    except StretchError as e:
        print(f"stretch_corpus: {e}", file=sys.stderr)
        return 2
    print(f"stretch_corpus: {n} tempo pairs ({2 * n} clips) -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
