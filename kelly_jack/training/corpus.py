"""The rendered training corpus: cue sampling, contrast pairs, fluidsynth rendering, DEAM-format output.

Two styles: ``melody`` (a melody over chords on one GM program, reverb and chorus off, the
level set by the dynamics cue: ``level``) and ``arrangement`` (melody, chords, bass and
drums on several programs with reverb and chorus sends, post-processed and set to a random
level: ``arrangement.py``, ``drums.py``, ``production.py``; some clips change cues part-way).

``plan(...)`` draws the clips (cues and melody seeds) from one seed;
``render(...)`` turns them into WAV files with fluidsynth (many clips per
fluidsynth run: they are laid out on one timeline with a silent gap, rendered
once, and cut apart at known sample positions); ``write_corpus(...)`` writes

* ``audio/<song_id>.wav`` (mono 16-bit) and ``midi/<song_id>.mid``,
* ``annotations.csv`` in DEAM's static-annotation format (``song_id,
  valence_mean, valence_std, arousal_mean, arousal_std`` on the 1..9 scale; std
  is 0: the labels come from rules, not raters) followed by the cue columns,
* ``contrasts.csv`` (``song_low, song_high, cue``) when contrast pairs were asked for,
* ``segments.csv`` (arrangement style): the label timeline of every clip, ``song_id, start_s,
  end_s, valence, arousal`` on DEAM's 1..9 scale; one row for a clip whose cues hold, two for
  a clip whose cues change (the annotation is their time-weighted mean),
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

from ..errors import KellyError
from ..io import atomic_write
from . import arrangement as A
from . import cues as C
from . import production as P
from .audio import write_wav
from .music import Note, midi_bytes, notes, timed_messages

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
ARRANGE_SEED = 0xA2  # mixed into the corpus seed for the arrangement draws (their own stream)
STYLES = ("arrangement", "melody")
CHANGE_AT = (0.35, 0.65)  # where a clip's cues change, as a fraction of its length (uniform)
CHANGE_CUES = ("mode", "tempo", "register", "dynamics", "articulation", "consonance", "drums")
GAP_SECONDS = 1.5  # silence after each clip on the shared timeline: release tails die out in it
# Clip loudness (RMS over the whole clip, dBFS) set by the dynamics cue alone: velocity 30 -> -43 dB,
# 120 -> -21 dB (about the average the unlevelled renders had). Without it, loudness also followed
# articulation (staccato sounds less of the time: up to 7 dB quieter), instrument and chord size, and
# a model learns "staccato is calmer", the opposite of the articulation rule.
LEVEL_DB = (-43.0, -21.0)
PEAK_LIMIT = 0.98  # a clip whose peak would pass this is scaled down to it instead (quieter than its level)
# fluidsynth's reverb and chorus for arrangements (one setting for all; the per-channel sends vary per
# clip): a medium room (fluidsynth's default is 0.2, a small one), its default chorus.
FLUID_EFFECTS = {"synth.reverb.room-size": 0.6, "synth.reverb.damp": 0.3, "synth.reverb.level": 0.9}

# Contrast pairs: one cue at a low and a high value, everything else the same.
CONTRASTS = {
    "mode": ("aeolian", "ionian"),
    "tempo": (80.0, 150.0),
    "register": (54.0, 78.0),
    "dynamics": (45.0, 110.0),
    "articulation": (1.0, 0.3),
    "consonance": (3, 0),
}
# Arrangements add one: no drums against sixteenth hi-hats and fills (levels of cues.DRUM_LEVELS).
DRUM_CONTRAST = {"drums": (0, 3)}


class CorpusError(KellyError):
    """The corpus cannot be made (missing tool or soundfont, bad option); one line for the user."""


@dataclass(frozen=True)
class Clip:
    song_id: int
    cues: C.Cues
    seed: int  # the melody seed (key, progression, texture, rhythm, contour)
    soundfont: str = ""  # which of the corpus's soundfonts renders it (a name or path given to write_corpus)
    arrangement: A.Arrangement | None = None  # None: the melody style
    production: P.Production | None = None  # arrangement style: post-processing and level
    change: A.Change | None = None  # cues that switch part-way (arrangement style)

    @property
    def label(self) -> tuple[float, float]:
        """(valence, arousal) on -1..1: the rules' label, time-weighted over a change."""
        if self.change is None:
            return C.label(self.cues)
        (v0, a0), (v1, a1), w = C.label(self.cues), C.label(self.change.cues), self.change.at
        return (w * v0 + (1.0 - w) * v1, w * a0 + (1.0 - w) * a1)

    def segments(self, seconds: float) -> list[tuple[float, float, float, float]]:
        """The label timeline: (start_s, end_s, valence, arousal) on -1..1, tiling 0..``seconds``."""
        if self.change is None:
            return [(0.0, seconds, *C.label(self.cues))]
        cut = round(self.change.at * seconds, 6)
        return [(0.0, cut, *C.label(self.cues)), (cut, seconds, *C.label(self.change.cues))]

    def parts(self, seconds: float) -> tuple[list[mido.Message], list[Note]]:
        """(setup messages for the clip's start, notes) of this clip in its style."""
        if self.arrangement is None:
            setup = [mido.Message("program_change", channel=ch, program=self.cues.program) for ch in (0, 1)]
            return setup, notes(self.cues, self.seed, seconds)
        setup = A.setup_messages(self.cues.program, self.arrangement)
        return setup, A.clip_notes(self.cues, self.seed, self.arrangement, seconds, self.change)

    def midi(self, seconds: float) -> bytes:
        """The clip's own Standard MIDI File."""
        if self.arrangement is None:
            return midi_bytes(self.cues, notes(self.cues, self.seed, seconds))
        clip_notes = A.clip_notes(self.cues, self.seed, self.arrangement, seconds, self.change)
        return A.midi_bytes(self.cues, self.arrangement, clip_notes, self.change, seconds)


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


CUE_FIELDS = {
    "mode": "mode",
    "tempo": "bpm",
    "register": "register",
    "dynamics": "velocity",
    "articulation": "note_length",
    "consonance": "consonance",
    "drums": "drums",
}


def _with_cue(cues: C.Cues, cue: str, value) -> C.Cues:
    return replace(cues, **{CUE_FIELDS[cue]: value})


def _changed_cues(rng: np.random.Generator, cues: C.Cues, instruments: dict[int, tuple[str, float]]) -> A.Change:
    """One to three of CHANGE_CUES redrawn (each to a value other than its own), from a CHANGE_AT time on."""
    at = round(float(rng.uniform(*CHANGE_AT)), 3)
    k = int(rng.integers(1, 4))
    names = tuple(sorted(str(n) for n in rng.choice(CHANGE_CUES, size=k, replace=False)))
    fresh = random_cues(rng, instruments)
    level = int(rng.integers(C.DRUM_LEVELS))
    new = cues
    for name in names:
        field = CUE_FIELDS[name]
        value = level if name == "drums" else getattr(fresh, field)
        if value == getattr(cues, field):  # the same value drawn again: take the far end instead
            value = {
                "mode": "ionian" if C.MODES[cues.mode][1] < 0 else "aeolian",
                "bpm": C.TEMPO_BPM[0] if cues.bpm > sum(C.TEMPO_BPM) / 2 else C.TEMPO_BPM[1],
                "register": C.REGISTER_NOTE[0] if cues.register > sum(C.REGISTER_NOTE) / 2 else C.REGISTER_NOTE[1],
                "velocity": C.VELOCITY[0] if cues.velocity > sum(C.VELOCITY) / 2 else C.VELOCITY[1],
                "note_length": C.NOTE_LENGTH[1] if cues.note_length > 0.6 else C.NOTE_LENGTH[0],
                "consonance": 0 if cues.consonance else C.CONSONANCE_LEVELS - 1,
                "drums": 0 if cues.drums else C.DRUM_LEVELS - 1,
            }[field]
        new = replace(new, **{field: value})
    return A.Change(at, new, names)


def arrange(
    clips: list[Clip],
    pairs: list[tuple[int, int, str]],
    seed: int,
    instruments: dict[int, tuple[str, float]],
    changes: float = 0.0,
) -> list[Clip]:
    """``clips`` of the melody style turned into arrangements, from a random stream of their own.

    Each random clip, and each pair as a whole, gets a drum level following its tempo and dynamics
    (``arrangement.drum_level``; a drums pair keeps its two levels), programs and mix
    (``arrangement.draw``, from ``instruments`` only) and production (``production.draw``); the two
    clips of a pair share all of it except the level (``Production.rms_db``), drawn for each clip, so
    a pair's difference cannot be read from its level. A share ``changes`` (0..1) of the random clips
    change cues part-way (never a pair's). The timbre cue becomes the mean brightness of the melody
    and chord programs.
    """
    rng = np.random.default_rng([seed, ARRANGE_SEED])
    by_id = {c.song_id: c for c in clips}
    partner = {a: (b, cue) for a, b, cue in pairs}
    in_pair = set(partner) | {b for b, _ in partner.values()}
    out: dict[int, Clip] = {}
    for c in clips:
        if c.song_id in out:
            continue
        drum = A.drum_level(rng, c.cues)
        arr = A.draw(rng, instruments, drum)
        prod = P.draw(rng)
        bright = A.brightness(instruments, c.cues.program, arr.chords)
        change = None
        if c.song_id not in in_pair and rng.uniform() < changes:
            change = _changed_cues(rng, replace(c.cues, drums=drum, brightness=bright), instruments)
        group = [c.song_id] + ([partner[c.song_id][0]] if c.song_id in partner else [])
        for i, sid in enumerate(group):
            cues = by_id[sid].cues
            own = cues.drums if cues.drums is not None else drum  # a drums pair has its levels already
            p = prod if i == 0 else replace(prod, rms_db=P.draw(rng).rms_db)
            out[sid] = replace(
                by_id[sid],
                cues=replace(cues, drums=own, brightness=bright),
                arrangement=arr,
                production=p,
                change=change,
            )
    return [out[c.song_id] for c in clips]


def plan(
    count: int,
    seed: int,
    instruments: dict[int, tuple[str, float]],
    contrasts: int = 0,
    soundfonts: list[str] | tuple[str, ...] = (),
    style: str = "melody",
    changes: float = 0.0,
) -> tuple[list[Clip], list[tuple[int, int, str]]]:
    """``count`` random clips, then ``contrasts`` pairs for each contrast cue; ids from 1.

    Returns (clips, pairs): each pair is (song_id with the cue low, song_id with it high, cue).
    With ``soundfonts``, each random clip and each pair (both clips alike, so a pair differs in its
    cue only) gets one of them, drawn uniformly from a stream of its own (``seed`` and
    SOUNDFONT_SEED): the cues and melodies are those of the same seed without soundfonts.
    ``style="arrangement"`` arranges the same clips (``arrange``, with ``changes`` the share of
    random clips whose cues change part-way) and adds the DRUM_CONTRAST pairs after the others.
    """
    if style not in STYLES:
        raise CorpusError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if not 0.0 <= changes <= 1.0 or (changes and style != "arrangement"):
        raise CorpusError(f"changes must be 0..1 and only with the arrangement style, got {changes}")
    rng = np.random.default_rng(seed)
    clips = [Clip(i + 1, random_cues(rng, instruments), int(rng.integers(2**31))) for i in range(count)]
    pairs = []
    contrast_cues = {**CONTRASTS, **(DRUM_CONTRAST if style == "arrangement" else {})}
    for cue, (low, high) in contrast_cues.items():
        for _ in range(contrasts):
            base = random_cues(rng, instruments)
            melody = int(rng.integers(2**31))
            a = Clip(len(clips) + 1, _with_cue(base, cue, low), melody)
            b = Clip(len(clips) + 2, _with_cue(base, cue, high), melody)
            clips += [a, b]
            pairs.append((a.song_id, b.song_id, cue))
    if style == "arrangement":
        clips = arrange(clips, pairs, seed, instruments, changes)
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
        setup, clip_notes = clip.parts(seconds)
        for ch in sorted({m.channel for m in setup}):
            events.append((start, 0, mido.Message("control_change", channel=ch, control=120, value=0)))
            events.append((start, 0, mido.Message("control_change", channel=ch, control=121, value=0)))
        events += [(start, 1, m) for m in setup]
        for t, msg in timed_messages(clip_notes, tps, start):
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


def render_batch(
    clips: list[Clip], seconds: float, soundfont: Path, rate: int, gain: float, effects: bool = False
) -> list[np.ndarray]:
    """Mono float32 audio of each clip (``seconds * rate`` samples), from one fluidsynth run.

    ``effects`` turns fluidsynth's reverb and chorus on (FLUID_EFFECTS; the clips' CC91/CC93 sends
    set how much of each channel goes to them); off, they are off.
    """
    exe = fluidsynth_path()
    with tempfile.TemporaryDirectory(prefix="kelly-corpus-") as tmp:
        mid = Path(tmp) / "batch.mid"
        raw = Path(tmp) / "batch.raw"
        mid.write_bytes(batch_midi(clips, seconds))
        fx = ["-R", "1", "-C", "1"] + [a for k, v in FLUID_EFFECTS.items() for a in ("-o", f"{k}={v}")]
        cmd = [exe, "-n", "-i", "-q"] + (fx if effects else ["-R", "0", "-C", "0"])
        cmd += ["-g", str(gain), "-r", str(rate)]
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


ARRANGEMENT_COLUMNS = [
    "drums", "chords_program", "bass_program", "reverb", "chorus", "comp_ratio", "tilt_db", "noise_db",
    "rms_dbfs", "change_s", "changed",
]  # fmt: skip


def annotations_csv(
    clips: list[Clip], instruments: dict[int, tuple[str, float]], soundfont: dict[str, str], seconds: float = 0.0
) -> str:
    """DEAM static-annotation columns (1..9; a clip's label, time-weighted over a change), then the cues.

    The cue columns are those the clip starts with. Arranged clips add ARRANGEMENT_COLUMNS: drum level,
    the chord and bass programs, the mean reverb (CC91) and chorus (CC93) send, the production
    (``production.Production``: ratio, tilt dB/octave, noise floor dB below the signal, RMS dBFS
    before the limiter), and where the cues change (seconds, empty without a change) and which.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    arranged = any(c.arrangement is not None for c in clips)
    w.writerow(
        ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]
        + ["mode", "bpm", "register", "velocity", "note_length", "consonance", "program", "instrument", "soundfont"]
        + (ARRANGEMENT_COLUMNS if arranged else [])
    )
    for c in clips:
        v, a = c.label
        q = c.cues
        row = [c.song_id, f"{C.to_deam(v):.4f}", "0", f"{C.to_deam(a):.4f}", "0"]
        row += [q.mode, q.bpm, int(q.register), int(q.velocity), q.note_length, q.consonance, q.program]
        row += [instruments[q.program][0], soundfont[c.soundfont]]
        if arranged:
            r, p, ch = c.arrangement, c.production, c.change
            row += [q.drums, r.chords, r.bass, round(float(np.mean(r.reverb))), round(float(np.mean(r.chorus)))]
            row += [p.comp_ratio, p.tilt_db, p.noise_db, p.rms_db]
            row += ["", ""] if ch is None else [round(ch.at * seconds, 3), " ".join(ch.changed)]
        w.writerow(row)
    return buf.getvalue()


def segments_csv(clips: list[Clip], seconds: float) -> str:
    """The label timeline of every clip: ``song_id, start_s, end_s, valence, arousal`` (DEAM's 1..9)."""
    lines = ["song_id,start_s,end_s,valence,arousal\n"]
    for c in clips:
        for t0, t1, v, a in c.segments(seconds):
            lines.append(f"{c.song_id},{t0:.3f},{t1:.3f},{C.to_deam(v):.4f},{C.to_deam(a):.4f}\n")
    return "".join(lines)


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
    fluidsynth run renders clips of one soundfont. Arranged clips (``plan(style="arrangement")``)
    render with fluidsynth's reverb and chorus, go through ``production.apply`` and get a
    segments.csv; melody clips render dry and are levelled by velocity (``level``).
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
    arranged = any(c.arrangement is not None for c in clips)
    if arranged and not all(c.arrangement is not None and c.production is not None for c in clips):
        raise CorpusError("a corpus is all arrangements or all melodies: some clips have no arrangement")
    t0 = time.perf_counter()
    for c in clips:
        atomic_write(out / "midi" / f"{c.song_id}.mid", c.midi(seconds))
    groups = []
    for n in names:  # in clip order within each soundfont
        mine = [c for c in clips if c.soundfont == n]
        groups += [mine[i : i + batch] for i in range(0, len(mine), batch)]
    done = 0

    def work(group: list[Clip]) -> int:
        audios = render_batch(group, seconds, paths[group[0].soundfont], rate, gain, effects=arranged)
        for c, audio in zip(group, audios, strict=True):
            finished = P.apply(audio, rate, c.production) if arranged else level(audio, c.cues.velocity)
            write_wav(out / "audio" / f"{c.song_id}.wav", finished, rate)
        return len(group)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for n in pool.map(work, groups):
            done += n
            if progress:
                progress(done, len(clips))
    render_seconds = time.perf_counter() - t0
    file_names = {n: p.name for n, p in paths.items()}
    per_soundfont = {file_names[n]: sum(c.soundfont == n for c in clips) for n in names}
    if arranged:
        atomic_write(out / "segments.csv", segments_csv(clips, seconds).encode())
    else:
        (out / "segments.csv").unlink(missing_ok=True)  # a stale timeline of an earlier corpus in ``out``
    atomic_write(out / "annotations.csv", annotations_csv(clips, instruments, file_names, seconds).encode())
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
        "style": "arrangement" if arranged else "melody",
        "label_rules": {"valence": C.VALENCE_WEIGHTS, "arousal": C.AROUSAL_WEIGHTS},
    }
    if arranged:
        drum_levels = [c.cues.drums for c in clips]
        record["arrangement"] = {
            "drum_levels": {str(k): drum_levels.count(k) for k in range(C.DRUM_LEVELS)},
            "cue_changes": sum(c.change is not None for c in clips),
            "change_at": list(CHANGE_AT),
            "change_cues": list(CHANGE_CUES),
            "fluidsynth_effects": FLUID_EFFECTS,
            "mixer_cc": {"volume_cc7": list(A.VOLUME), "reverb_cc91": list(A.REVERB_SEND),
                         "chorus_cc93": list(A.CHORUS_SEND)},
            "production": {"rms_dbfs": list(P.RMS_DB), "comp_ratio": list(P.COMP_RATIO),
                           "comp_threshold_db": list(P.COMP_THRESHOLD_DB), "tilt_db_per_octave": list(P.TILT_DB),
                           "noise_below_signal_db": list(P.NOISE_DB), "peak_limit": P.PEAK_LIMIT},
            "pair_gain": "independent per clip",
        }  # fmt: skip
    else:
        record["level_db"] = {"velocity": list(C.VELOCITY), "rms_dbfs": list(LEVEL_DB), "peak_limit": PEAK_LIMIT}
    atomic_write(out / "corpus.json", (json.dumps(record, indent=1) + "\n").encode())
    return record
