"""Tempo-stretched contrast pairs: rendered clips played faster and slower with rubberband, pitch kept.

The corpus's own tempo pairs differ in the MIDI tempo: notes, drums and reverb tails are all
rendered afresh. Recorded music changes tempo as a whole take, and the checks on recorded music
(``recorded.py``) stretch real excerpts with rubberband. So a model also learns the tempo cue from
the very transformation it is measured with, on training clips only: each picked clip of a
``make_corpus.py`` folder is stretched to ``FAST`` and ``SLOW`` times its speed (Debian
``rubberband-cli``), and the two become a ``tempo`` contrast pair. Their labels follow the
documented rule (``cues.py``): the clip's label moved by the tempo weight times the change of the
tempo cue, so the pair's labelled difference is what the rule says a tempo change of that size is
worth. Only clips whose cues hold for the whole clip and whose stretched tempi stay inside the
rule's range (60..180 BPM) are picked.

Writes, like ``corpus.write_corpus``: ``audio/<id>.wav`` (mono 16-bit), ``annotations.csv`` (DEAM
format on 1..9, with ``source_id``, ``stretch``, ``bpm``), ``contrasts.csv`` (``song_low, song_high,
cue``: the slow clip, the fast clip, ``tempo``) and ``corpus.json``; every file atomically.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import KellyError
from ..io import AudioFileError, atomic_write, read_audio
from . import cues as C
from .audio import write_wav

FAST, SLOW = 1.25, 0.8  # speed multipliers (rubberband -T), those of the checks on recorded music


class StretchError(KellyError):
    """The stretched corpus cannot be made (missing rubberband, unreadable corpus); one line for the user."""


def _rows(corpus: Path) -> list[dict[str, str]]:
    path = corpus / "annotations.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise StretchError(f"{path}: cannot read it ({e})") from None
    need = {"song_id", "valence_mean", "arousal_mean", "bpm"}
    if rows and not need <= set(rows[0]):
        raise StretchError(f"{path}: needs the columns {', '.join(sorted(need))} (a make_corpus.py folder)")
    return rows


def pick(rows: list[dict[str, str]], count: int, seed: int) -> list[dict[str, str]]:
    """``count`` rows (seeded draw) whose cues hold for the whole clip and whose stretched tempi stay in range."""
    lo, hi = C.TEMPO_BPM
    ok = [r for r in rows if not r.get("changed") and lo <= float(r["bpm"]) * SLOW and float(r["bpm"]) * FAST <= hi]
    rng = np.random.default_rng(seed)
    return [ok[i] for i in sorted(rng.permutation(len(ok))[: min(count, len(ok))])]


def stretched_label(row: dict[str, str], speed: float) -> tuple[float, float]:
    """(valence, arousal) on -1..1 of the clip of ``row`` played ``speed`` times as fast (the tempo rule)."""
    bpm = float(row["bpm"])
    shift = C.scale(bpm * speed, *C.TEMPO_BPM) - C.scale(bpm, *C.TEMPO_BPM)
    valence = (float(row["valence_mean"]) - 5.0) / 4.0 + C.VALENCE_WEIGHTS["tempo"] * shift
    arousal = (float(row["arousal_mean"]) - 5.0) / 4.0 + C.AROUSAL_WEIGHTS["tempo"] * shift
    return valence, arousal


def stretch_file(src: Path, speed: float, rate: int) -> np.ndarray:
    """``src`` played ``speed`` times as fast by rubberband (pitch kept), mono at ``rate``; raises StretchError."""
    with tempfile.TemporaryDirectory(prefix="kelly-stretch-") as tmp:
        out = Path(tmp) / "out.wav"
        r = subprocess.run(["rubberband", "-q", f"-T{speed:g}", str(src), str(out)], capture_output=True, text=True)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            raise StretchError(f"{src}: rubberband failed ({last})")
        try:
            y, _ = read_audio(out, rate)
        except AudioFileError as e:
            raise StretchError(str(e)) from None
    return y


def write_pairs(
    out: Path,
    one: Callable[[int], list[list]],
    count: int,
    extra: list[str],
    jobs: int,
    progress: Callable[[int], None],
) -> list[list[list]]:
    """Run ``one(i)`` for i < ``count`` in ``jobs`` threads (each writes a pair's audio and returns its slow and
    fast annotation rows: the DEAM columns, then ``extra``), then write ``annotations.csv`` and ``contrasts.csv``
    (``tempo`` pairs, slow clip low) into ``out`` atomically; returns the rows. ``progress(done)`` every 50 pairs.
    """
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = []
        for i, rows in enumerate(pool.map(one, range(count))):
            results.append(rows)
            if (i + 1) % 50 == 0:
                progress(i + 1)
    ann, pairs = io.StringIO(), io.StringIO()
    w = csv.writer(ann, lineterminator="\n")
    w.writerow(["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std", *extra])
    p = csv.writer(pairs, lineterminator="\n")
    p.writerow(["song_low", "song_high", "cue"])
    for slow, fast in results:
        w.writerows([slow, fast])
        p.writerow([slow[0], fast[0], "tempo"])
    atomic_write(out / "annotations.csv", ann.getvalue().encode())
    atomic_write(out / "contrasts.csv", pairs.getvalue().encode())
    return results


def make(source: Path, out: Path, count: int, seed: int, jobs: int = 2, log=print) -> int:
    """Write the stretched pairs of ``count`` clips of ``source`` into ``out``; return the pairs written."""
    if shutil.which("rubberband") is None:
        raise StretchError("rubberband is not installed (apt: rubberband-cli; scripts/setup installs it)")
    rows = pick(_rows(source), count, seed)
    if not rows:
        raise StretchError(f"{source}: no clip whose tempo stays within 60..180 BPM at {SLOW}x and {FAST}x")
    meta = json.loads((source / "corpus.json").read_text()) if (source / "corpus.json").is_file() else {}
    rate = int(meta.get("sample_rate", 48000))

    def one(i: int) -> list[list]:
        row = rows[i]
        src = source / "audio" / f"{row['song_id']}.wav"
        lines = []
        for k, speed in enumerate((SLOW, FAST)):
            song = 2 * i + k + 1
            write_wav(out / "audio" / f"{song}.wav", stretch_file(src, speed, rate), rate)
            v, a = stretched_label(row, speed)
            lines.append([song, f"{5 + 4 * v:.4f}", 0, f"{5 + 4 * a:.4f}", 0, row["song_id"], speed, row["bpm"]])
        return lines

    extra = ["source_id", "stretch", "bpm"]
    write_pairs(out, one, len(rows), extra, jobs, lambda i: log(f"stretch: {i}/{len(rows)} clips"))
    record = {"source": str(source), "clips": len(rows), "seed": seed, "speeds": [SLOW, FAST], "sample_rate": rate}
    atomic_write(out / "corpus.json", (json.dumps(record, indent=1) + "\n").encode())
    return len(rows)
