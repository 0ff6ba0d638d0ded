"""The rendered training corpus: cue sampling, contrast pairs, fluidsynth rendering, DEAM-format output.

``plan(...)`` draws the clips (cues and melody seeds) from one seed;
``render(...)`` turns them into WAV files with fluidsynth (many clips per
fluidsynth run: they are laid out on one timeline with a silent gap, rendered
once, and cut apart at known sample positions); ``write_corpus(...)`` writes

* ``audio/<song_id>.wav`` (mono 16-bit) and ``midi/<song_id>.mid``,
* ``annotations.csv`` in DEAM's static-annotation format (``song_id,
  valence_mean, valence_std, arousal_mean, arousal_std`` on the 1..9 scale; std
  is 0: the labels come from rules, not raters) followed by the cue columns,
* ``contrasts.csv`` (``song_low, song_high, cue``) when contrast pairs were asked for,
* ``corpus.json``: how it was made.

Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import numpy as np

from . import cues as C
from .audio import write_wav
from .files import atomic_write
from .music import midi_bytes, notes, timed_messages

SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
# Debian GM soundfonts by short name. csound's sf_GMbank (apt: csound-soundfont, 4 MB, all 128 GM
# programs) is not derived from FluidR3, so training on it keeps the evaluation soundfont unseen;
# musescore-general-* and fluidr3mono-* are FluidR3 derivatives and must not be used for training.
SOUNDFONTS = {"timgm6mb": "TimGM6mb.sf2", "fluidr3": "FluidR3_GM.sf2", "csound": "sf_GMbank.sf2"}
APT_PACKAGES = {
    "fluidsynth": "fluidsynth",
    "timgm6mb": "timgm6mb-soundfont",
    "fluidr3": "fluid-soundfont-gm",
    "csound": "csound-soundfont",
}
SOUNDFONT_SEED = 0x5F  # mixed into the corpus seed for the per-clip soundfont draw (its own stream)
GAP_SECONDS = 1.5  # silence after each clip on the shared timeline: release tails die out in it
# Clip loudness (RMS over the whole clip, dBFS) set by the dynamics cue alone: velocity 30 -> -43 dB,
# 120 -> -21 dB (about the average the unlevelled renders had). Without it, loudness also followed
# articulation (staccato sounds less of the time: up to 7 dB quieter), instrument and chord size, and
# a model learns "staccato is calmer", the opposite of the articulation rule.
LEVEL_DB = (-43.0, -21.0)
PEAK_LIMIT = 0.98  # a clip whose peak would pass this is scaled down to it instead (quieter than its level)

# Contrast pairs: one cue at a low and a high value, everything else the same.
CONTRASTS = {
    "mode": ("aeolian", "ionian"),
    "tempo": (80.0, 150.0),
    "register": (54.0, 78.0),
    "dynamics": (45.0, 110.0),
    "articulation": (1.0, 0.3),
    "consonance": (3, 0),
}


class CorpusError(Exception):
    """The corpus cannot be made (missing tool or soundfont, bad option); one line for the user."""


@dataclass(frozen=True)
class Clip:
    song_id: int
    cues: C.Cues
    seed: int  # the melody seed (key, progression, texture, rhythm, contour)
    soundfont: str = ""  # which of the corpus's soundfonts renders it (a name or path given to write_corpus)

    @property
    def label(self) -> tuple[float, float]:
        return C.label(self.cues)


def soundfont_path(name: str) -> Path:
    """The .sf2 file of a Debian soundfont package (a key of SOUNDFONTS) or a path; CorpusError if absent."""
    if name in SOUNDFONTS:
        p = SOUNDFONT_DIR / SOUNDFONTS[name]
        if not p.is_file():
            raise CorpusError(f"soundfont {p} is missing: apt-get install {APT_PACKAGES[name]}")
        return p
    p = Path(name)
    if not p.is_file():
        raise CorpusError(f"soundfont {p}: no such file")
    return p


def fluidsynth_path() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise CorpusError("fluidsynth is not installed: apt-get install fluidsynth (scripts/setup does it)")
    return exe


def random_cues(rng: np.random.Generator, instruments: dict[int, tuple[str, float]]) -> C.Cues:
    """Independently drawn cues (a random factorial design), the instrument from ``instruments``."""
    programs = sorted(instruments)
    program = programs[int(rng.integers(len(programs)))]
    return C.Cues(
        mode=sorted(C.MODES)[int(rng.integers(len(C.MODES)))],
        bpm=round(float(rng.uniform(*C.TEMPO_BPM)), 1),
        register=float(rng.integers(int(C.REGISTER_NOTE[0]), int(C.REGISTER_NOTE[1]) + 1)),
        velocity=float(rng.integers(int(C.VELOCITY[0]), int(C.VELOCITY[1]) + 1)),
        note_length=round(float(rng.uniform(C.NOTE_LENGTH[1], C.NOTE_LENGTH[0])), 3),
        consonance=int(rng.integers(C.CONSONANCE_LEVELS)),
        program=program,
        brightness=instruments[program][1],
    )


def _with_cue(cues: C.Cues, cue: str, value) -> C.Cues:
    field = {
        "mode": "mode",
        "tempo": "bpm",
        "register": "register",
        "dynamics": "velocity",
        "articulation": "note_length",
        "consonance": "consonance",
    }[cue]
    return replace(cues, **{field: value})


def plan(
    count: int,
    seed: int,
    instruments: dict[int, tuple[str, float]],
    contrasts: int = 0,
    soundfonts: list[str] | tuple[str, ...] = (),
) -> tuple[list[Clip], list[tuple[int, int, str]]]:
    """``count`` random clips, then ``contrasts`` pairs for each contrast cue; ids from 1.

    Returns (clips, pairs): each pair is (song_id with the cue low, song_id with it high, cue).
    With ``soundfonts``, each random clip and each pair (both clips alike, so a pair differs in its
    cue only) gets one of them, drawn uniformly from a stream of its own (``seed`` and
    SOUNDFONT_SEED): the cues and melodies are those of the same seed without soundfonts.
    """
    rng = np.random.default_rng(seed)
    clips = [Clip(i + 1, random_cues(rng, instruments), int(rng.integers(2**31))) for i in range(count)]
    pairs = []
    for cue, (low, high) in CONTRASTS.items():
        for _ in range(contrasts):
            base = random_cues(rng, instruments)
            melody = int(rng.integers(2**31))
            a = Clip(len(clips) + 1, _with_cue(base, cue, low), melody)
            b = Clip(len(clips) + 2, _with_cue(base, cue, high), melody)
            clips += [a, b]
            pairs.append((a.song_id, b.song_id, cue))
    if soundfonts:
        return assign_soundfonts(clips, pairs, soundfonts, seed), pairs
    return clips, pairs


def assign_soundfonts(
    clips: list[Clip], pairs: list[tuple[int, int, str]], soundfonts: list[str] | tuple[str, ...], seed: int
) -> list[Clip]:
    """``clips`` with their soundfont drawn per random clip and per pair, deterministically from ``seed``."""
    names = list(soundfonts)
    rng = np.random.default_rng([seed, SOUNDFONT_SEED])
    paired = {a: b for a, b, _ in pairs}
    choice: dict[int, str] = {}
    for c in clips:
        if c.song_id in choice:
            continue
        choice[c.song_id] = names[int(rng.integers(len(names)))]
        if c.song_id in paired:
            choice[paired[c.song_id]] = choice[c.song_id]
    return [replace(c, soundfont=choice[c.song_id]) for c in clips]


def batch_midi(clips: list[Clip], seconds: float) -> bytes:
    """All ``clips`` on one timeline, clip k starting at ``k * (seconds + GAP_SECONDS)`` s (120 BPM, 960 ticks)."""
    tps = 1920.0  # ticks per second at 120 BPM and 960 ticks per beat
    f = mido.MidiFile(type=0, ticks_per_beat=960)
    events: list[tuple[int, int, mido.Message]] = [(0, 0, mido.MetaMessage("set_tempo", tempo=500000))]
    for k, clip in enumerate(clips):
        start = int(round(k * (seconds + GAP_SECONDS) * tps))
        for ch in (0, 1):
            events.append((start, 0, mido.Message("control_change", channel=ch, control=120, value=0)))
            events.append((start, 0, mido.Message("control_change", channel=ch, control=121, value=0)))
            events.append((start, 1, mido.Message("program_change", channel=ch, program=clip.cues.program)))
        for t, msg in timed_messages(notes(clip.cues, clip.seed, seconds), tps, start):
            events.append((t, 2, msg))
    end = int(round(len(clips) * (seconds + GAP_SECONDS) * tps))
    events.append((end, 3, mido.MetaMessage("end_of_track")))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    last = 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - last))
        last = t
    f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def render_batch(clips: list[Clip], seconds: float, soundfont: Path, rate: int, gain: float) -> list[np.ndarray]:
    """Mono float32 audio of each clip (``seconds * rate`` samples), from one fluidsynth run."""
    exe = fluidsynth_path()
    with tempfile.TemporaryDirectory(prefix="kelly-corpus-") as tmp:
        mid = Path(tmp) / "batch.mid"
        raw = Path(tmp) / "batch.raw"
        mid.write_bytes(batch_midi(clips, seconds))
        cmd = [exe, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(gain), "-r", str(rate)]
        cmd += ["-T", "raw", "-O", "float", "-E", "little", "-F", str(raw), str(soundfont), str(mid)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not raw.is_file():
            raise CorpusError(f"fluidsynth failed ({done.returncode}): {done.stderr.strip()[:300]}")
        stereo = np.fromfile(raw, dtype="<f4").reshape(-1, 2)
    mono = stereo.mean(axis=1)
    n = int(round(seconds * rate))
    step = int(round((seconds + GAP_SECONDS) * rate))
    out = []
    for k in range(len(clips)):
        piece = mono[k * step : k * step + n]
        out.append(np.pad(piece, (0, n - len(piece))).astype(np.float32))
    return out


def level(audio: np.ndarray, velocity: float) -> np.ndarray:
    """``audio`` scaled to the RMS level of ``velocity`` (LEVEL_DB over C.VELOCITY, linear in dB).

    The gain is lowered when the peak would pass PEAK_LIMIT; silence stays silence.
    """
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if rms <= 1e-9:
        return audio
    lo, hi = C.VELOCITY
    target_db = LEVEL_DB[0] + (velocity - lo) * (LEVEL_DB[1] - LEVEL_DB[0]) / (hi - lo)
    gain = min(10.0 ** (target_db / 20.0) / rms, PEAK_LIMIT / peak)
    return (audio * gain).astype(np.float32)


def annotations_csv(clips: list[Clip], instruments: dict[int, tuple[str, float]], soundfont: dict[str, str]) -> str:
    """DEAM static-annotation columns (1..9), then the cues."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]
        + ["mode", "bpm", "register", "velocity", "note_length", "consonance", "program", "instrument", "soundfont"]
    )
    for c in clips:
        v, a = c.label
        q = c.cues
        w.writerow(
            [c.song_id, f"{C.to_deam(v):.4f}", "0", f"{C.to_deam(a):.4f}", "0"]
            + [q.mode, q.bpm, int(q.register), int(q.velocity), q.note_length, q.consonance, q.program]
            + [instruments[q.program][0], soundfont[c.soundfont]]
        )
    return buf.getvalue()


def write_corpus(
    out: Path,
    clips: list[Clip],
    pairs: list[tuple[int, int, str]],
    *,
    instruments: dict[int, tuple[str, float]],
    soundfont: str | list[str],
    seconds: float,
    rate: int,
    gain: float = 0.4,
    batch: int = 64,
    jobs: int = 2,
    description: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Render and write the corpus into ``out``; returns the corpus.json record (with the render time).

    ``soundfont`` is one soundfont (name or path) for every clip, or several: then each clip is
    rendered with its own ``Clip.soundfont`` (see ``plan``), which must be one of them. Each
    fluidsynth run renders clips of one soundfont.
    """
    names = [soundfont] if isinstance(soundfont, str) else list(soundfont)
    if not names:
        raise CorpusError("no soundfont given")
    paths = {n: soundfont_path(n) for n in names}
    if len(names) == 1:
        clips = [replace(c, soundfont=names[0]) for c in clips]
    unknown = sorted({c.soundfont for c in clips} - set(names))
    if unknown:
        raise CorpusError(f"clips ask for soundfont(s) {', '.join(unknown)} not given: {', '.join(names)}")
    fluidsynth_path()
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "midi").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for c in clips:
        atomic_write(out / "midi" / f"{c.song_id}.mid", midi_bytes(c.cues, notes(c.cues, c.seed, seconds)))
    groups = []
    for n in names:  # in clip order within each soundfont
        mine = [c for c in clips if c.soundfont == n]
        groups += [mine[i : i + batch] for i in range(0, len(mine), batch)]
    done = 0

    def work(group: list[Clip]) -> int:
        audios = render_batch(group, seconds, paths[group[0].soundfont], rate, gain)
        for c, audio in zip(group, audios, strict=True):
            write_wav(out / "audio" / f"{c.song_id}.wav", level(audio, c.cues.velocity), rate)
        return len(group)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for n in pool.map(work, groups):
            done += n
            if progress:
                progress(done, len(clips))
    render_seconds = time.perf_counter() - t0
    file_names = {n: p.name for n, p in paths.items()}
    per_soundfont = {file_names[n]: sum(c.soundfont == n for c in clips) for n in names}
    atomic_write(out / "annotations.csv", annotations_csv(clips, instruments, file_names).encode())
    if pairs:
        rows = "song_low,song_high,cue\n" + "".join(f"{a},{b},{cue}\n" for a, b, cue in pairs)
        atomic_write(out / "contrasts.csv", rows.encode())
    record = {
        **(description or {}),
        "clips": len(clips),
        "contrast_pairs": len(pairs),
        "seconds_per_clip": seconds,
        "sample_rate": rate,
        "soundfont": ", ".join(file_names[n] for n in names),
        **({"soundfont_clips": per_soundfont} if len(names) > 1 else {}),
        "instruments": {str(p): n for p, (n, _) in sorted(instruments.items())},
        "render_seconds": round(render_seconds, 1),
        "level_db": {"velocity": list(C.VELOCITY), "rms_dbfs": list(LEVEL_DB), "peak_limit": PEAK_LIMIT},
        "label_rules": {"valence": C.VALENCE_WEIGHTS, "arousal": C.AROUSAL_WEIGHTS},
    }
    atomic_write(out / "corpus.json", (json.dumps(record, indent=1) + "\n").encode())
    return record
