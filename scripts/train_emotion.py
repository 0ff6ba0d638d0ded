#!/usr/bin/env python3
"""Train the emotion model (numpy MLP or GRU, 128 features -> 64 grid logits) and export it as ONNX and RTNeural JSON.

    .venv/bin/python scripts/train_emotion.py --corpus data/train
    .venv/bin/python scripts/train_emotion.py --data DEAM/annotations.csv DEAM/MEMD_audio   # DEAM format
    .venv/bin/python scripts/train_emotion.py --data PMEmo/static_annotations.csv PMEmo/chorus

``--corpus DIR`` is a folder of make_corpus.py (DIR/annotations.csv, DIR/audio);
``--data CSV AUDIO`` any DEAM- or PMEmo-format static annotation file and its
audio folder (non-WAV audio needs ffmpeg). Both repeat. Features come from the
package's extractor (kelly_jack.training.features). Writes --onnx and --rtneural
(default models/emotion.onnx, models/emotion.rtneural.json) and --report (JSON).
Same data and seed: same model. Exit 2 with one line on a problem.

``--cache DIR`` keeps each clip's feature frames in DIR (keyed by audio file,
layout version and augmentation; keep it outside the repo) so later runs skip
the extraction; ``--jobs N`` computes missing entries in N processes.
``--augment`` equalises each training clip (not the held-out ones) with a random
spectral tilt and EQ band drawn from --augment-seed and the clip's id
(kelly_jack.training.augment) before its features are taken. ``--dev DIR``
evaluates the written model on a make_corpus.py folder afterwards (the
development set, where training choices are made) and adds it to the report.

``--model gru`` trains the recurrent model instead of the one-hop MLP (the
default): dense --hidden tanh -> GRU --gru-units -> 64 logits, on every frame of
each clip in order, the loss skipping the first --warmup seconds of a clip
(kelly_jack.training.gru); its files stream one hop at a time in both backends.

A corpus folder with a contrasts.csv (``make_corpus.py --contrasts``) gives
contrast pairs: each pair stays on one side of the held-out split and adds the
squared error of its difference to the loss, weighted by --pair-weight
(kelly_jack.training.mlp). A corpus whose labels are relative
(``stretch_recorded.py``: unlabelled recordings in tempo consistency pairs)
trains through its pairs only, and only with ``--model gru``.
"""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on these small matrices (6x slower measured on 2 busy cores)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from kelly_jack.io import AudioFileError, atomic_write
from kelly_jack.training import pipeline
from kelly_jack.training.augment import Augment
from kelly_jack.training.cache import ClipFeatures
from kelly_jack.training.dataset import DatasetError, corpus_items, read_annotations
from kelly_jack.training.evaluate import evaluate, read_pairs, table
from kelly_jack.training.gru import GruConfig
from kelly_jack.training.mlp import TrainConfig


def describe(corpora: list[Path], data: list[list[str]], n: int) -> str:
    parts = []
    for d in corpora:
        info = {}
        try:
            info = json.loads((d / "corpus.json").read_text())
        except (OSError, ValueError):
            pass
        if info.get("labels") == "relative":  # stretch_recorded.py
            parts.append(
                f"{2 * info.get('pairs', 0)} excerpts of {info.get('tracks')} recorded tracks "
                f"({', '.join(info.get('packages', []))}; no held-out package) at 0.8x and 1.25x speed "
                f"with rubberband: unlabelled tempo consistency pairs (only the tempo rule's difference at "
                f"{info.get('nominal_bpm')} BPM)"
            )
        elif info and "speeds" in info:  # stretch_corpus.py
            parts.append(
                f"{2 * info.get('clips', 0)} clips of {Path(str(info.get('source'))).name} played at "
                f"{' and '.join(f'{s:g}x' for s in info['speeds'])} speed with rubberband (tempo pairs, "
                f"seed {info.get('seed')}) labelled by the tempo rule (models/README.md); not human ratings"
            )
        elif info:
            style = (
                ", arranged with drums, bass, production and a random level"
                if info.get("style") == "arrangement"
                else ""
            )
            parts.append(
                f"{info.get('clips')} rendered MIDI clips ({info.get('seconds_per_clip')} s, "
                f"{len(info.get('instruments', {}))} GM instruments, soundfont {info.get('soundfont')}, "
                f"seed {info.get('seed')}{', loudness levelled by velocity' if 'level_db' in info else ''}{style}) "
                "labelled by additive cue rules (models/README.md); "
                "not human ratings"
            )
        else:
            parts.append(f"corpus {d.name}")
    parts += [f"{Path(csv).name} ({Path(audio).name})" for csv, audio in data]
    return f"{n} clips: " + "; ".join(parts)


def corpus_pairs(corpus: Path, items: list, start: int) -> list[tuple[int, int]]:
    """The contrast pairs of a corpus folder as (low, high) indices of ``items`` (the folder's clips from ``start``)."""
    path = corpus / "contrasts.csv"
    if not path.is_file():
        return []
    try:
        rows = read_pairs(path)
    except KeyError as e:
        raise DatasetError(f"{path}: no column {e.args[0]} (expected song_low, song_high, cue)") from None
    index = {it.song_id: start + k for k, it in enumerate(items)}
    seen: set[str] = set()
    for row in rows:
        for song in row[:2]:
            if song not in index:
                raise DatasetError(f"{path}: song_id {song} is not in {corpus / 'annotations.csv'}")
            if song in seen:  # a clip in two pairs could not stay on one side of the split with both
                raise DatasetError(f"{path}: song_id {song} appears twice (a clip belongs to one pair at most)")
            seen.add(song)
    return [(index[lo], index[hi]) for lo, hi, _ in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, action="append", default=[], help="make_corpus.py folder (repeatable)")
    ap.add_argument("--data", nargs=2, action="append", default=[], metavar=("CSV", "AUDIO_DIR"))
    ap.add_argument("--onnx", type=Path, default=Path("models/emotion.onnx"))
    ap.add_argument("--rtneural", type=Path, default=Path("models/emotion.rtneural.json"))
    ap.add_argument("--report", type=Path, default=None, help="write the training summary here (JSON)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", choices=("mlp", "gru"), default="mlp", help="network (default mlp)")
    ap.add_argument("--hidden", type=int, default=64, help="hidden tanh units (gru: of the dense layer before it)")
    ap.add_argument("--gru-units", type=int, default=32, help="GRU state size (--model gru; default 32)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds per clip the GRU's loss skips (default 2)")
    ap.add_argument("--frames-per-clip", type=int, default=64, help="evenly spaced frames per clip (0: all)")
    ap.add_argument("--val-share", type=float, default=0.15, help="share of clips held out (default 0.15)")
    ap.add_argument("--max-epochs", type=int, default=None, help="default 200 (mlp), 100 (gru)")
    ap.add_argument("--patience", type=int, default=None, help="epochs without improvement (12 mlp, 8 gru)")
    ap.add_argument("--cache", type=Path, help="feature cache folder (outside the repo)")
    ap.add_argument("--jobs", type=int, default=1, help="processes computing features into --cache (default 1)")
    ap.add_argument("--augment", action="store_true", help="random tilt/EQ on each training clip (default off)")
    ap.add_argument("--augment-seed", type=int, default=0)
    ap.add_argument("--augment-tilt-db", type=float, default=2.0, help="max tilt, dB per octave (default 2)")
    ap.add_argument("--augment-band-db", type=float, default=6.0, help="max EQ band gain, dB (default 6)")
    ap.add_argument(
        "--pair-weight", type=float, default=3.0, help="weight of the contrast-pair term (default 3; 0: off)"
    )
    ap.add_argument("--dev", type=Path, help="evaluate the written model on this make_corpus.py folder")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = None if a.quiet else (lambda m: print(f"train_emotion: {m}", file=sys.stderr))
    try:
        if not a.corpus and not a.data:
            raise DatasetError("give at least one --corpus DIR or --data CSV AUDIO_DIR")
        if a.pair_weight < 0:
            raise DatasetError(f"--pair-weight must be 0 or more, got {a.pair_weight}")
        if not 0.0 < a.val_share < 1.0:
            raise DatasetError(f"--val-share must be between 0 and 1, got {a.val_share}")
        items, pair_list = [], []
        for d in a.corpus:
            its = corpus_items(d)
            pair_list += corpus_pairs(d, its, len(items))
            items += its
        pairs = np.array(pair_list, dtype=np.int64).reshape(-1, 2)
        items += [it for csv, audio in a.data for it in read_annotations(csv, audio)]
        if a.warmup < 0 or a.gru_units < 1 or a.hidden < 1:
            raise DatasetError("--warmup must be 0 or more, --gru-units and --hidden at least 1")
        epochs = {k: v for k, v in (("max_epochs", a.max_epochs), ("patience", a.patience)) if v is not None}
        cfg: TrainConfig | GruConfig
        if a.model == "gru":
            cfg = GruConfig(
                dense=a.hidden, units=a.gru_units, warmup_s=a.warmup, seed=a.seed, pair_weight=a.pair_weight, **epochs
            )
        else:
            cfg = TrainConfig(hidden=a.hidden, seed=a.seed, pair_weight=a.pair_weight, **epochs)
        aug = None
        if a.augment:
            aug = Augment(tilt_db=a.augment_tilt_db, band_db=a.augment_band_db, seed=a.augment_seed)
        plain, train_features = ClipFeatures(a.cache), (ClipFeatures(a.cache, aug) if aug else None)

        def prepare(held: np.ndarray) -> None:
            """Fill the cache in --jobs processes: held-out clips as they are, training clips augmented (--augment)."""
            if train_features is None:
                plain.prepare(items, a.jobs, log)
            else:
                plain.prepare([it for it, h in zip(items, held, strict=True) if h], a.jobs, log)
                train_features.prepare([it for it, h in zip(items, held, strict=True) if not h], a.jobs, log)

        t0 = time.perf_counter()
        result = pipeline.run(items, cfg, a.frames_per_clip, a.val_share, log, plain, train_features, pairs, prepare)
        training = describe(a.corpus, a.data, len(items)) + (f"; training clips augmented ({aug.key()})" if aug else "")
        meta = pipeline.save(result, training, a.onnx, a.rtneural)
        dev = None
        if a.dev:
            t1 = time.perf_counter()
            dev_features = ClipFeatures(a.cache)
            dev_features.prepare(corpus_items(a.dev), a.jobs, log)
            dev = {**evaluate(a.rtneural, a.dev, dev_features), "seconds": round(time.perf_counter() - t1, 1)}
    except (DatasetError, AudioFileError, ValueError, OSError) as e:
        print(f"train_emotion: {e}", file=sys.stderr)
        return 2
    summary = {**pipeline.summary(result), "total_seconds": round(time.perf_counter() - t0, 1)}
    summary["augment"] = aug.key() if aug else None
    summary["contrast_pairs"] = len(pairs)
    summary["training_data"] = meta["kelly_jack.training_data"]
    if dev is not None:
        summary["dev"] = dev
    if a.report:
        atomic_write(a.report, (json.dumps(summary, indent=1) + "\n").encode())
    print(json.dumps(summary, indent=1))
    print(f"train_emotion: wrote {a.onnx} and {a.rtneural}", file=sys.stderr)
    if dev is not None:
        print(f"train_emotion: on the development set {a.dev} ({dev['clips']} clips):\n{table(dev)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
