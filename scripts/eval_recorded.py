#!/usr/bin/env python3
"""Checks on recorded music: does a fader move change the emotion; is faster music heard as more aroused?

    PYTHONPATH=. .venv/bin/python scripts/eval_recorded.py --set dev -o data/recorded/dev.json
    PYTHONPATH=. .venv/bin/python scripts/eval_recorded.py --set dev --model models/emotion.rtneural.json \\
        --model new.rtneural.json                 # two models side by side, the peer beside them
    PYTHONPATH=. .venv/bin/python scripts/eval_recorded.py --set dev --no-peer
    PYTHONPATH=. .venv/bin/python scripts/eval_recorded.py --from-report data/recorded/dev.json \\
        --package freedroidrpg-data               # a saved report's figures for some packages

Music: soundtracks shipped by Debian, fetched with ``apt-get download`` into ``--cache``
(default ``data/recorded``, gitignored; never commit audio) and unpacked with ``dpkg-deb -x``:

| package | set | licence (debian/copyright) | music | tracks |
| --- | --- | --- | --- | --- |
| hyperrogue-music | dev | GPL-2+ | orchestral, ambient, folk, electronic (ogg) | 10 |
| drascula-music | dev | Drascula licence, BSD-like | light orchestral, jazz, tango, horror (ogg) | 10 |
| nexuiz-music | dev | GPL-2+ | techno, drum and bass, industrial (ogg in a .pk3) | 10 |
| asc-music | dev | GPL-2+ | rock, orchestral (mp3) | 3 |
| freedroidrpg-data | dev | GPL-2+ | sci-fi RPG score: ambient, battle, town (ogg) | 10 |
| warzone2100-music | heldout | GPL-2+; CC BY-SA 3.0+ (2 albums) | electronic, industrial, orchestral (opus) | 14 |
| singularity-music | heldout | CC BY-SA 3.0 | ambient, electronic, piano (ogg) | 13 |
| supertuxkart-data | heldout | CC BY-SA 3.0 / 4.0, one track GPL | kart racing themes (ogg) | 12 |
| hedgewars-data | heldout | GPL-2 | artillery game themes (ogg) | 12 |
| megaglest-data | heldout | CC BY-SA 3.0 | strategy faction themes (ogg) | 8 |
| widelands-data | heldout | GPL-2+; CC BY-SA 3.0 (3 tracks) | settlement strategy score (ogg) | 12 |
| openclonk-data | heldout | CC BY 3.0 or CC0 | sandbox game soundtrack (ogg) | 8 |

The ``train`` packages of ``kelly_jack/training/recorded.py`` only feed consistency pairs; no
``--set`` measures them. Why these: free licences, formats libsndfile decodes (Vorbis, Opus, MP3;
not tracker modules such as fb-music-high's .xm), and together orchestral, acoustic, rock and
electronic music from slow ambient to fast techno; the game-data packages are large downloads
(supertuxkart-data 630 MB, widelands-data 380 MB), fetched once into the cache.
Tracks of at least 40 s, at most the number above per package, picked by a hash of package and
path. The split is by package (``kelly_jack/training/recorded.py``): held-out tracks are by
other composers and studios. Tuning and consistency terms use ``--set dev`` only. The last five
held-out packages joined the set after its first three looks (see ``models/heldout-looks.md``).

Each track gives a 24 s excerpt from its middle (mono, 48 kHz, peak -1 dBFS) at 0, -12 and -24 dB
and rubberband stretches (``rubberband -T1.25`` / ``-T0.8``: tempo multiplier, pitch kept) of it.
kelly's value of a variant: the mean of the per-hop valence/arousal (grid centroid) over the hops
after an 8 s warm-up, computed by the project's extractor and the model's own backend. VibeNet
(pip ``vibenet``, GPL-3.0) runs in its own venv (``--peer-venv``, created when missing) as a
measured peer only; ``--no-peer`` skips it. Variants, features and values are cached in ``--cache``.

``--set heldout`` appends a line to ``models/heldout-looks.md`` (``--looks-log``); it is for final
candidates only. Prints a Markdown table (the checks, the tempo excerpts only the model or only
the peer orders with a one-sided sign test, the tempo count per package); ``-o FILE`` writes the
JSON report, per-track values included. ``--from-report FILE`` prints a saved report's table
again, for the ``--package`` packages only when given: nothing is measured and no look is
logged. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on these small matrices (as in eval_emotion.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from kelly_jack.io import atomic_write
from kelly_jack.training.recorded import RecordedError
from kelly_jack.training.recorded_checks import run, subset, summarise, table
from kelly_jack.training.recorded_measure import VibeNetPeer

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="split", choices=("dev", "heldout"), default="dev")
    ap.add_argument("--model", action="append", help="a .rtneural.json or .onnx model file (repeatable)")
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "recorded", help="downloads, variants, results")
    ap.add_argument("--peer-venv", type=Path, default=REPO / "data" / "vibenet-venv", help="VibeNet's own venv")
    ap.add_argument("--no-peer", action="store_true", help="do not run VibeNet")
    ap.add_argument("--looks-log", type=Path, default=REPO / "models" / "heldout-looks.md")
    ap.add_argument("--refresh", action="store_true", help="recompute cached features and values")
    ap.add_argument("-o", "--output", type=Path, help="write the JSON report here")
    ap.add_argument("--from-report", type=Path, help="print a saved JSON report's table; measure nothing")
    ap.add_argument("--package", action="append", help="with --from-report: only this package's tracks (repeatable)")
    a = ap.parse_args(argv)
    if a.package and not a.from_report:
        ap.error("--package needs --from-report")
    if a.from_report:
        return _from_report(a.from_report, a.package)
    models = a.model or [str(REPO / "models" / "emotion.rtneural.json")]
    t0 = time.monotonic()
    log = lambda s: print(f"eval_recorded: {s}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        peer = None
        if not a.no_peer:
            peer = VibeNetPeer(a.peer_venv, a.cache, a.refresh)
            peer.ensure(log)
        command = "scripts/eval_recorded.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
        report = run(a.split, models, a.cache, peer, a.looks_log, command, refresh=a.refresh, log=log)
    except (RecordedError, OSError) as e:
        print(f"eval_recorded: {e}", file=sys.stderr)
        return 2
    report["seconds"] = round(time.monotonic() - t0, 1)
    print(f"{a.split} set: {len(report['tracks'])} tracks, {report['seconds']} s\n")
    print(table(report))
    if a.output:
        atomic_write(a.output, (json.dumps(report, indent=1) + "\n").encode())
    return 0


def _from_report(path: Path, packages: list[str] | None) -> int:
    try:
        report = json.loads(path.read_text())
        report = subset(report, packages) if packages else summarise(report)
        print(f"{report['set']} set, from {path}: {len(report['tracks'])} tracks\n")
        print(table(report))
    except (OSError, ValueError, KeyError, RecordedError) as e:
        what = f"key {e}" if isinstance(e, KeyError) else str(e)
        print(f"eval_recorded: {path}: {what}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
