#!/usr/bin/env python3
"""Tempo consistency pairs from development or training-only recordings (unlabelled; rubberband, pitch kept).

    .venv/bin/python scripts/stretch_recorded.py data/rec-pairs --package hyperrogue-music \\
        --package nexuiz-music --per-track 12 --seconds 10

Excerpts of the named packages' tracks (the ``dev`` or ``train`` packages of
kelly_jack/training/recorded.py, fetched with apt-get download when not cached; held-out
packages are refused) are played at 0.8x and 1.25x speed with rubberband (apt: rubberband-cli)
and become ``tempo`` contrast pairs whose labels are relative: the trainer
(``--model gru``) learns only their difference, the tempo rule's for a track at 100 BPM
(kelly_jack/training/recorded_pairs.py; models/README.md). Writes OUT/audio/<id>.wav,
OUT/annotations.csv, OUT/contrasts.csv and OUT/corpus.json. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from kelly_jack.training.recorded import RecordedError  # noqa: E402
from kelly_jack.training.recorded_pairs import make, pairable_tracks  # noqa: E402
from kelly_jack.training.stretch import StretchError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="output folder (must not hold a corpus)")
    ap.add_argument("--package", action="append", required=True, help="development or training package (repeatable)")
    ap.add_argument("--per-track", type=int, default=12, help="excerpts per track at most (default 12)")
    ap.add_argument("--seconds", type=float, default=10.0, help="excerpt length before stretching (default 10)")
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "recorded", help="downloads (eval_recorded.py's)")
    ap.add_argument("--jobs", type=int, default=2, help="rubberband processes at once (default 2)")
    a = ap.parse_args(argv)
    if a.per_track < 1 or a.seconds < 4:
        print("stretch_recorded: --per-track must be 1 or more and --seconds 4 or more", file=sys.stderr)
        return 2
    if (a.out / "annotations.csv").exists():
        print(
            f"stretch_recorded: {a.out} already holds a corpus (annotations.csv); choose another folder",
            file=sys.stderr,
        )
        return 2
    log = lambda m: print(f"stretch_recorded: {m}", file=sys.stderr)  # noqa: E731
    try:
        n = make(pairable_tracks(a.package, a.cache), a.out, a.per_track, a.seconds, a.jobs, log)
    except (StretchError, RecordedError) as e:
        print(f"stretch_recorded: {e}", file=sys.stderr)
        return 2
    print(f"stretch_recorded: {n} tempo pairs ({2 * n} clips) -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
