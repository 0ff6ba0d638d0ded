"""Tempo consistency pairs from development or training-only recordings: unlabelled, so only differences count.

Rendered training clips teach the tempo cue on rendered MIDI; recorded music is what the model must
hear. Unlabelled recorded music may train consistency terms, never from held-out tracks. So
excerpts of development or training-only tracks (``recorded.PACKAGES`` of the ``dev`` or ``train``
split, never ``heldout``) are played at ``stretch.SLOW`` and ``stretch.FAST`` times their speed with rubberband
(pitch kept) and become ``tempo`` contrast pairs. Nobody rated these tracks: a clip's own label is
unknown, and the corpus says so (``corpus.json``: ``"labels": "relative"``), so the trainer gives
these clips no clip term, only the pair term (``gru`` module docstring). The pair's target
difference is the tempo rule's (``cues.py``) for the stretch applied to a track at
``NOMINAL_BPM``, the tempo each track is assumed to have (its real tempo is not known): the slow
clip is labelled 5.0 on DEAM's 1..9 scale, the fast one 5.0 plus that difference.

Excerpts: ``per_track`` excerpts of ``seconds`` each, evenly spread over the track after and
before ``MARGIN_S``, mono, ``recorded.ANALYSIS_RATE``, peak-normalised. Writes ``audio/<id>.wav``
(16-bit), ``annotations.csv`` (DEAM format with ``package``, ``track``, ``start_s``, ``stretch``),
``contrasts.csv`` and ``corpus.json``, every file atomically. Errors are ``StretchError`` or
``RecordedError`` with one line.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io import atomic_write
from . import cues as C
from .audio import write_wav
from .features import ANALYSIS_RATE
from .recorded import PACKAGES, Package, Track, excerpt, packages_of, tracks
from .stretch import FAST, SLOW, StretchError, stretch_file, write_pairs

NOMINAL_BPM = 100.0
MARGIN_S = 5.0  # skip fade-ins and fade-outs


def pair_difference() -> tuple[float, float]:
    """(valence, arousal) the tempo rule gives a FAST over a SLOW stretch of music at NOMINAL_BPM (-1..1 units)."""
    shift = C.scale(NOMINAL_BPM * FAST, *C.TEMPO_BPM) - C.scale(NOMINAL_BPM * SLOW, *C.TEMPO_BPM)
    return C.VALENCE_WEIGHTS["tempo"] * shift, C.AROUSAL_WEIGHTS["tempo"] * shift


def excerpt_starts(duration_s: float, seconds: float, per_track: int) -> list[float]:
    """Start times (s) of at most ``per_track`` excerpts spread evenly inside the margins (none if it cannot fit)."""
    last = duration_s - MARGIN_S - seconds
    if last < MARGIN_S or per_track < 1:
        return []
    n = min(per_track, int((last - MARGIN_S) // seconds) + 1)
    return [float(t) for t in np.linspace(MARGIN_S, last, n)]


def pairable_tracks(names: list[str], cache: Path, catalogue: tuple[Package, ...] = PACKAGES) -> list[Track]:
    """The chosen tracks of the named development or training packages; a held-out or unknown package is an error."""
    ok = {p.name: p for split in ("dev", "train") for p in packages_of(split, catalogue)}
    for name in names:
        if name not in ok:
            raise StretchError(f"package {name}: not a development or training package ({', '.join(sorted(ok))})")
    return [t for name in names for t in tracks(ok[name], cache)]


def make(
    chosen: list[Track],
    out: Path,
    per_track: int,
    seconds: float,
    jobs: int = 2,
    log: Callable[[str], None] = print,
) -> int:
    """Write the consistency pairs of ``chosen`` tracks into ``out``; return the number of pairs."""
    import soundfile as sf

    if shutil.which("rubberband") is None:
        raise StretchError("rubberband is not installed (apt: rubberband-cli; scripts/setup installs it)")
    jobs_list = [
        (t, start) for t in chosen for start in excerpt_starts(float(sf.info(str(t.path)).duration), seconds, per_track)
    ]
    if not jobs_list:
        raise StretchError(f"no track is long enough for a {seconds:g} s excerpt between {MARGIN_S:g} s margins")
    dv, da = pair_difference()

    def one(i: int) -> list[list]:
        track, start = jobs_list[i]
        x = excerpt(track.path, seconds, start)
        rows = []
        with tempfile.TemporaryDirectory(prefix="kelly-recpairs-") as tmp:
            src = Path(tmp) / "excerpt.wav"
            write_wav(src, x, ANALYSIS_RATE)
            for k, (speed, v, a) in enumerate(((SLOW, 0.0, 0.0), (FAST, dv, da))):
                song = 2 * i + k + 1
                y = stretch_file(src, speed, ANALYSIS_RATE)
                peak = float(np.max(np.abs(y))) if len(y) else 0.0
                write_wav(out / "audio" / f"{song}.wav", y * (0.89 / peak) if peak > 0 else y, ANALYSIS_RATE)
                rows.append([song, f"{5 + 4 * v:.4f}", 0, f"{5 + 4 * a:.4f}", 0, track.package, track.relpath])
                rows[-1] += [f"{start:.2f}", speed]
        return rows

    extra = ["package", "track", "start_s", "stretch"]
    progress = lambda i: log(f"recorded pairs: {i}/{len(jobs_list)} excerpts")  # noqa: E731
    results = write_pairs(out, one, len(jobs_list), extra, jobs, progress)
    record = {
        "labels": "relative",
        "packages": sorted({t.package for t in chosen}),
        "tracks": len(chosen),
        "pairs": len(results),
        "seconds_per_excerpt": seconds,
        "speeds": [SLOW, FAST],
        "nominal_bpm": NOMINAL_BPM,
        "pair_difference": {"valence": round(dv, 4), "arousal": round(da, 4)},
        "sample_rate": ANALYSIS_RATE,
    }
    atomic_write(out / "corpus.json", (json.dumps(record, indent=1) + "\n").encode())
    return len(results)
