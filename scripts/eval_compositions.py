#!/usr/bin/env python3
"""Composition check: does valence rank major-key pieces above minor-key ones on real compositions?

    PYTHONPATH=. .venv/bin/python scripts/eval_compositions.py -o data/compositions/report.json
    PYTHONPATH=. .venv/bin/python scripts/eval_compositions.py --model models/emotion.rtneural.json \\
        --model candidate.rtneural.json           # models side by side

Music: composed MIDI pieces that Debian ships, fetched with ``apt-get download`` into ``--cache``
(default ``data/compositions``, gitignored; never commit MIDI or audio) and unpacked with
``dpkg-deb -x`` (``kelly_jack/training/compositions.py``):

| package | licence (debian/copyright) | music | pieces |
| --- | --- | --- | --- |
| openttd-openmsx | GPL-2.0 | OpenTTD's original music set: ragtime, blues, boogie, light jazz, pop | 31 |
| planetblupi-music-midi | GPL-3+ | Planet Blupi's game music: light orchestral, pop | 10 |
| pianobooster | music: "CC-BY" (the file points to the CC0 text) | folk tunes arranged for piano | 7 |

None of this music is made by the corpus code, and it is rendered with FluidR3 (Debian
``fluid-soundfont-gm``), the soundfont no training set uses. Each piece gives one excerpt:
``--seconds`` (30) from its first note plus ``--offset`` (0), at most what is left of the piece;
pieces with less than 16 s are dropped. Its mode comes from the score, not the audio: the
Krumhansl-Kessler key of the duration-weighted pitch-class histogram of the excerpt's notes (drums,
channel 10, left out); a piece counts when the best major and best minor correlations differ by at
least ``--min-margin`` (0.1), either way. ``--label signature`` takes the mode of the file's key
signature instead; the report says how often the two agree. The rendering (fluidsynth, 48 kHz,
mono, RMS ``--rms-db`` dBFS) and kelly's valence per hop (the project's extractor and the model's
own backend; mean after an 8 s warm-up) give each model's value of a piece; the figure is the AUC,
P(a major piece has higher valence than a minor one), over all pairs, with a bootstrap interval.

Prints a Markdown report; ``-o FILE`` writes the JSON report. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on these small matrices (as in eval_emotion.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

from kelly_jack.io import AudioFileError, atomic_write
from kelly_jack.training.compositions import CompositionError
from kelly_jack.training.compositions_check import LABELS, MIN_MARGIN, run, table
from kelly_jack.training.recorded import RecordedError

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="a .rtneural.json or .onnx model file (repeatable)")
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "compositions", help="downloads and renderings")
    ap.add_argument("--seconds", type=float, default=30.0, help="excerpt length (default 30)")
    ap.add_argument("--offset", type=float, default=0.0, help="excerpt start after the first note, s (default 0)")
    ap.add_argument("--rms-db", type=float, default=-30.0, help="excerpt level, dBFS RMS (default -30)")
    ap.add_argument("--min-margin", type=float, default=MIN_MARGIN, help="clarity: |best major r - best minor r|")
    ap.add_argument("--label", choices=LABELS, default="score", help="mode from the score estimate or key signature")
    ap.add_argument("-o", "--output", type=Path, help="write the JSON report here")
    a = ap.parse_args(argv)
    models = a.model or [str(REPO / "models" / "emotion.rtneural.json")]
    t0 = time.monotonic()
    log = lambda s: print(f"eval_compositions: {s}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        report = run(models, a.cache, a.seconds, a.offset, a.rms_db, a.min_margin, a.label, log=log)
    except (CompositionError, RecordedError, AudioFileError, OSError) as e:
        print(f"eval_compositions: {e}", file=sys.stderr)
        return 2
    report["seconds_taken"] = round(time.monotonic() - t0, 1)
    print(table(report))
    if a.output:
        atomic_write(a.output, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
