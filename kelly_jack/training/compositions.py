"""Real compositions as MIDI from Debian packages: fetching, the piece list, the excerpt and its FluidR3 rendering.

The composition check (``scripts/eval_compositions.py``) asks whether the model's
valence ranks major-key pieces above minor-key ones on music our corpus code never generated,
rendered with the soundfont training never uses (FluidR3, Debian ``fluid-soundfont-gm``).
``SOURCES`` names the packages, with the licence their ``/usr/share/doc/<pkg>/copyright`` states.

Contracts:

* ``pieces(source, cache)`` fetches the package (``recorded.fetch``: ``apt-get download`` into
  ``cache/debs``, ``dpkg-deb -x`` into ``cache/pkgs``, a zip inside the package unpacked to
  ``archive/``) and lists its MIDI files matching ``source.patterns``, sorted by path.
* ``excerpt(path, seconds, offset)`` reads the file (mido) and returns its non-drum notes and the
  excerpt ``[start, start + length)``: ``start`` is the first note-on plus ``offset`` seconds,
  ``length`` is ``seconds`` or what is left of the piece when it is shorter. The key estimate
  (``compositions_key``) and the rendering use the same span.
* ``render(path, start, length, wav, rms_db)`` renders the file with fluidsynth and FluidR3 at
  48 kHz (fluidsynth's reverb and chorus on at their defaults, the file's own CC91/CC93 sends
  deciding how much each channel gets; the messages after the excerpt are cut from the MIDI
  first and all sound stopped there, ``cut_midi``), mixes to mono, keeps the excerpt and sets
  its RMS to ``rms_db`` dBFS (lowered when the peak would pass ``corpus.PEAK_LIMIT``), then
  writes a 16-bit WAV, once: an existing
  file is reused (the cache folder's name carries the excerpt rules, ``render_folder``).

Errors are ``CompositionError`` (one line naming the package, file or tool); ``recorded.fetch``
raises ``RecordedError``, which callers catch too.
"""

from __future__ import annotations

import fnmatch
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from ..errors import KellyError
from .audio import write_wav
from .compositions_key import notes
from .corpus import PEAK_LIMIT, CorpusError, fluidsynth_path, soundfont_path
from .features import ANALYSIS_RATE
from .recorded import fetch

SOUNDFONT = "fluidr3"  # corpus.SOUNDFONTS key: the soundfont no training set uses
RENDER_VERSION = "v1"  # bump when the rendering rules change
RENDER_TIMEOUT = 300  # s; an excerpt renders in a few
MIN_SECONDS = 16.0  # shorter excerpts leave too few hops after the 8 s warm-up


class CompositionError(KellyError):
    """A package, MIDI file or rendering problem; ``str()`` is one line naming it."""


@dataclass(frozen=True)
class Source:
    """A Debian package that ships composed MIDI pieces. ``recorded.fetch`` reads ``name`` and ``archive`` only."""

    name: str
    licence: str
    music: str
    patterns: tuple[str, ...]  # fnmatch patterns of MIDI paths under the unpacked package (or its archive)
    archive: str | None = None  # a zip inside the package holding the MIDI files


SOURCES: tuple[Source, ...] = (
    Source(
        "openttd-openmsx",
        "GPL-2.0 (OpenMSX, various authors 2010)",
        "OpenTTD's original music set: ragtime, blues, boogie, light jazz and pop (31 pieces)",
        ("usr/share/games/openttd/baseset/openmsx/*.mid",),
    ),
    Source(
        "planetblupi-music-midi",
        "GPL-3+ (Daniel Roux, EPSITEC SA & Denis Dumoulin 1997; Mathieu Schroeter 2017-2018)",
        "Planet Blupi's game music: light orchestral and pop (10 pieces)",
        ("usr/share/planetblupi/music/*.mid",),
    ),
    Source(
        "pianobooster",
        "music/*: 'CC-BY' per debian/copyright (Louis J. Barman 2008-2013; the file points to the CC0 text)",
        "PianoBooster's 'Booster Music' book: piano arrangements of folk tunes (7 pieces; its exercises are left out)",
        ("BoosterMusicBooks4/Booster Music/*.mid",),
        archive="usr/share/games/pianobooster/music/BoosterMusicBooks.zip",
    ),
)


@dataclass(frozen=True)
class Piece:
    """A MIDI file of a package; ``key`` names it in caches and reports (package and file stem, file-safe)."""

    package: str
    version: str
    path: Path
    relpath: str

    @property
    def key(self) -> str:
        return f"{self.package}__{Path(self.relpath).stem.replace(' ', '_')}"


def pieces(source: Source, cache: Path) -> list[Piece]:
    """The package's MIDI pieces (fetched first), sorted by path."""
    root, version = fetch(source, cache)
    base = root / "archive" if source.archive else root
    found = [
        p
        for p in sorted(base.rglob("*"))
        if p.is_file() and any(fnmatch.fnmatch(p.relative_to(base).as_posix(), pat) for pat in source.patterns)
    ]
    if not found:
        raise CompositionError(f"package {source.name}: no file matches {', '.join(source.patterns)}")
    return [Piece(source.name, version, p, p.relative_to(base).as_posix()) for p in found]


def read_midi(path: Path) -> mido.MidiFile:
    try:
        return mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as e:
        raise CompositionError(f"{path}: mido cannot read it ({e})") from None


def excerpt(
    path: Path, seconds: float, offset: float = 0.0
) -> tuple[mido.MidiFile, list[tuple[float, float, int, int]], float, float]:
    """(the file, its non-drum notes, excerpt start s, excerpt length s); see the module docstring."""
    mid = read_midi(path)
    ns = notes(mid)
    if not ns:
        raise CompositionError(f"{path}: no notes outside the drum channel")
    start = ns[0][0] + offset
    last = max(e for _, e, _, _ in ns)
    length = min(seconds, last - start)
    return mid, ns, start, max(0.0, length)


def cut_midi(mid: mido.MidiFile, end: float) -> bytes:
    """``mid`` with every track cut after ``end`` seconds (tempo map applied), then all sound off on all channels.

    Tracks and their order are kept; one track is added (a type-0 file becomes type 1) that at the
    cut releases the sustain pedal and sends all-notes-off and all-sound-off on the 16 channels.
    Without it fluidsynth's ``-F`` render never ends on a note left on with a looped sample.
    """
    now, tick, tempo, stop = 0.0, 0, 500000, None
    for msg in mido.merge_tracks(mid.tracks):
        now += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
        tick += msg.time
        if now > end:
            stop = tick
            break
        if msg.type == "set_tempo":
            tempo = msg.tempo
    stop = tick if stop is None else stop
    out = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    for track in mid.tracks:
        kept, at = mido.MidiTrack(), 0
        for msg in track:
            at += msg.time
            if at >= stop or msg.type == "end_of_track":
                break
            kept.append(msg)
        kept.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(kept)
    off = mido.MidiTrack()
    for ch in range(16):
        for control in (64, 123, 120):  # sustain pedal up, all notes off, all sound off
            off.append(mido.Message("control_change", channel=ch, control=control, value=0, time=0))
    off[0] = off[0].copy(time=stop)
    off.append(mido.MetaMessage("end_of_track", time=0))
    out.tracks.append(off)
    buf = io.BytesIO()
    out.save(file=buf)
    return buf.getvalue()


def render_folder(cache: Path, seconds: float, offset: float, rms_db: float) -> Path:
    """Where renderings made with these excerpt rules are kept."""
    return cache / f"renders-{RENDER_VERSION}-{SOUNDFONT}-{seconds:g}s-at{offset:g}-rms{rms_db:g}"


def render(mid: mido.MidiFile, start: float, length: float, wav: Path, rms_db: float) -> Path:
    """The excerpt as a mono 48 kHz WAV at ``rms_db`` dBFS RMS (made once); see the module docstring."""
    if wav.is_file():
        return wav
    try:
        exe, sf2 = fluidsynth_path(), soundfont_path(SOUNDFONT)
    except CorpusError as e:
        raise CompositionError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="kelly-compositions-") as tmp:
        src, raw = Path(tmp) / "cut.mid", Path(tmp) / "out.raw"
        src.write_bytes(cut_midi(mid, start + length))
        cmd = [exe, "-n", "-i", "-q", "-R", "1", "-C", "1", "-g", "0.5", "-r", str(ANALYSIS_RATE)]
        cmd += ["-T", "raw", "-O", "float", "-E", "little", "-F", str(raw), str(sf2), str(src)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=RENDER_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CompositionError(f"{wav.name}: fluidsynth took more than {RENDER_TIMEOUT} s") from None
        if done.returncode != 0 or not raw.is_file():
            raise CompositionError(f"{wav.name}: fluidsynth failed ({done.returncode}): {done.stderr.strip()[:200]}")
        mono = np.fromfile(raw, dtype="<f4").reshape(-1, 2).mean(axis=1)
    a, n = int(round(start * ANALYSIS_RATE)), int(round(length * ANALYSIS_RATE))
    x = np.pad(mono[a : a + n], (0, max(0, n - len(mono[a : a + n])))).astype(np.float64)
    rms, peak = float(np.sqrt(np.mean(x * x))) if n else 0.0, float(np.max(np.abs(x))) if n else 0.0
    if rms < 1e-7:
        raise CompositionError(f"{wav.name}: the rendered excerpt is silent")
    gain = min(10.0 ** (rms_db / 20.0) / rms, PEAK_LIMIT / peak)
    write_wav(wav, (x * gain).astype(np.float32), ANALYSIS_RATE)
    return wav
