#!/usr/bin/env python3
"""Render a labelled corpus of MIDI clips with controlled musical cues (DEAM static-annotation format).

    .venv/bin/python scripts/make_corpus.py data/train --clips 1600 --seed 1
    .venv/bin/python scripts/make_corpus.py data/eval --set eval --clips 300 --contrasts 30 --seed 2
    .venv/bin/python scripts/make_corpus.py data/train-wide --set wide --clips 1600 --seed 3 \
        --soundfont timgm6mb --soundfont csound
    .venv/bin/python scripts/make_corpus.py data/dev --set dev --clips 200 --contrasts 20 --seed 4 \
        --soundfont timgm6mb --soundfont csound
    .venv/bin/python scripts/make_corpus.py data/train-pairs-b --set wide --clips 0 --contrasts 300 \
        --seed 9 --soundfont timgm6mb --soundfont csound    # contrast pairs only, for the pair term

Styles (``--style``): ``arrangement`` (the default) renders melody, chords or pad,
bass and drums (GM kit, channel 10) on several programs of the set, with reverb and
chorus sends, compression, EQ tilt, a noise floor and a random level (RMS -45..-10
dBFS, so level carries no label); a share ``--changes`` (default 0.25) of the random
clips change cues part-way and segments.csv holds every clip's label timeline; the
contrast pairs add a drums cue. ``melody`` is the earlier corpus: a melody over
chords on one program, dry, its level set by the velocity (the shipped model's
training data; same seed, same clips as before).

Instrument sets (kelly_jack/training/instruments.py): ``train`` the 22 programs
of the shipped model; ``wide`` every melodic GM program outside ``eval`` and
``dev`` (75); ``dev`` 15 programs kept out of both, for making training choices;
``eval`` 20 programs no training set uses. The soundfont defaults to TimGM6mb
(apt: timgm6mb-soundfont); for ``--set eval`` to FluidR3 (apt:
fluid-soundfont-gm) when it is installed, else TimGM6mb. ``--soundfont`` repeats:
given several, each clip (each contrast pair as a whole) gets one of them, drawn
from the seed, and annotations.csv names it per clip; csound is csound's GM bank
(apt: csound-soundfont), not derived from FluidR3. Needs ``fluidsynth`` (apt:
fluidsynth). Writes OUT/audio/<id>.wav, OUT/midi/<id>.mid, OUT/annotations.csv,
OUT/contrasts.csv (with --contrasts), OUT/corpus.json. Same seed and options:
same MIDI, labels and soundfonts. Exit 2 with one line on a problem.
"""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on these small matrices (6x slower measured on 2 busy cores)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

from kelly_jack.training import corpus, instruments
from kelly_jack.training.features import ANALYSIS_RATE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="output folder")
    ap.add_argument("--set", choices=tuple(instruments.SETS), default="train", help="instrument set (default train)")
    ap.add_argument("--clips", type=int, default=200, help="random clips (default 200)")
    ap.add_argument("--contrasts", type=int, default=0, help="contrast pairs per cue (default 0)")
    ap.add_argument("--style", choices=corpus.STYLES, default="arrangement", help="default arrangement (see above)")
    ap.add_argument(
        "--changes",
        type=float,
        default=None,
        help="share of random clips whose cues change part-way (arrangement only; default 0.25)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8.0, help="clip length in seconds (default 8)")
    ap.add_argument(
        "--soundfont",
        action="append",
        help=f"{', '.join(corpus.SOUNDFONTS)} or a .sf2 path; repeat to mix per clip (default: see above)",
    )
    ap.add_argument("--rate", type=int, default=ANALYSIS_RATE, help=f"sample rate (default {ANALYSIS_RATE})")
    ap.add_argument("--gain", type=float, default=1.0, help="fluidsynth gain (default 1.0)")
    ap.add_argument("--jobs", type=int, default=2, help="fluidsynth processes at once (default 2)")
    ap.add_argument("--force", action="store_true", help="overwrite an existing corpus in OUT")
    a = ap.parse_args(argv)
    try:
        if a.clips < 0 or a.contrasts < 0 or a.clips + a.contrasts == 0:
            raise corpus.CorpusError("--clips and --contrasts must be >= 0 and not both 0")
        if not 1.0 <= a.seconds <= 60.0:
            raise corpus.CorpusError(f"--seconds must be between 1 and 60, got {a.seconds}")
        if (a.out / "annotations.csv").exists() and not a.force:
            raise corpus.CorpusError(f"{a.out}/annotations.csv exists (use --force to overwrite)")
        if a.changes is not None and a.style != "arrangement":
            raise corpus.CorpusError("--changes needs --style arrangement")
        changes = (0.25 if a.changes is None else a.changes) if a.style == "arrangement" else 0.0
        if not 0.0 <= changes <= 1.0:
            raise corpus.CorpusError(f"--changes must be between 0 and 1, got {changes}")
        table = instruments.SETS[a.set]
        soundfont: str | list[str] | None = list(dict.fromkeys(a.soundfont)) if a.soundfont else None
        if soundfont is not None and len(soundfont) == 1:
            soundfont = soundfont[0]
        if soundfont is None:
            soundfont = "timgm6mb"
            if a.set == "eval":
                try:
                    corpus.soundfont_path("fluidr3")
                    soundfont = "fluidr3"
                except corpus.CorpusError as e:
                    print(f"make_corpus: {e}; rendering the eval set with TimGM6mb instead", file=sys.stderr)
        mixed = soundfont if isinstance(soundfont, list) else ()
        clips, pairs = corpus.plan(a.clips, a.seed, table, a.contrasts, mixed, a.style, changes)
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(f"\rmake_corpus: {done}/{total} clips", end="", file=sys.stderr, flush=True)

        record = corpus.write_corpus(
            a.out,
            clips,
            pairs,
            instruments=table,
            soundfont=soundfont,
            seconds=a.seconds,
            rate=a.rate,
            gain=a.gain,
            jobs=a.jobs,
            description={
                "set": a.set,
                "seed": a.seed,
                "changes": changes,
                "command": " ".join(["scripts/make_corpus.py", *sys.argv[1:]]),
            },
            progress=progress,
        )
    except (corpus.CorpusError, OSError) as e:
        print(f"\nmake_corpus: {e}", file=sys.stderr)
        return 2
    print(
        f"\nmake_corpus: {record['clips']} {a.style} clips ({len(pairs)} contrast pairs) of {a.seconds:g} s with "
        f"{record['soundfont']} in {time.perf_counter() - t0:.1f} s -> {a.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
