"""Recorded music from Debian packages: fetching, the track list, the dev/held-out split, excerpts and variants.

The checks on recorded music (``scripts/eval_recorded.py``) need real records, not
rendered MIDI. Debian ships game soundtracks under free licences; ``PACKAGES`` names the ones
used, with their licence (read from each package's ``/usr/share/doc/<pkg>/copyright``) and
the set each belongs to. The split is **by package**: every held-out track is by composers,
studios and mastering that no development or training track shares, so what is tuned on the
development set (including consistency terms trained on it) cannot learn a held-out composer's
sound; no music file is shared byte for byte between the packages used (checked with sha1 over
the unpacked packages; supertux-data, which shares a track with supertuxkart-data, is left out).
Both checked sets hold orchestral and electronic music. A third set, ``train``, only
feeds consistency pairs (``recorded_pairs``): no check measures it, so training on it leaves the
development tracks of packages never paired a clean measure.

Contracts:

* ``fetch(pkg, cache)`` runs ``apt-get download`` into ``cache/debs`` and ``dpkg-deb -x``
  into ``cache/pkgs/<name>`` (a Quake-style ``.pk3`` zip in the package is unpacked too);
  both are skipped when already done. Errors are ``RecordedError`` with one line naming
  the package.
* ``tracks(pkg, cache)`` lists the package's music files of at least ``MIN_TRACK_SECONDS``
  (less the names ``pkg.exclude`` matches), at most ``pkg.max_tracks`` of them, chosen by a
  hash of package and path: the same package version gives the same tracks on every machine.
* ``make_variants(track, folder)`` writes, once, the excerpt (``EXCERPT_SECONDS`` from the
  middle of the track, mono, 48 kHz with soxr, peak at ``PEAK_DBFS``) at 0, -12 and -24 dB,
  and rubberband tempo stretches (pitch kept) of the 0 dB excerpt at 1.25x and 0.8x speed,
  peak-normalised like the excerpt, all as float WAV. The folder name carries
  ``EXCERPT_VERSION``: a change of these rules is a new folder, never a stale file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import KellyError
from .features import ANALYSIS_RATE, resample

EXCERPT_SECONDS = 24.0
PEAK_DBFS = -1.0
MIN_TRACK_SECONDS = 40.0
EXCERPT_VERSION = "v1"  # bump when the excerpt or variant rules change
LEVELS_DB = (0, -12, -24)
TEMPI = (1.25, 0.8)  # speed multipliers for rubberband -T
MUSIC_SUFFIXES = (".ogg", ".opus", ".flac", ".wav", ".mp3")


class RecordedError(KellyError):
    """A package, track or tool problem; ``str()`` is one line naming the package, file or tool."""


@dataclass(frozen=True)
class Package:
    """A Debian package that ships music: where its music is, its licence, its set and how many tracks to take."""

    name: str
    split: str  # "dev", "heldout" or "train" (consistency pairs only, never checked)
    licence: str
    style: str
    max_tracks: int
    patterns: tuple[str, ...]  # fnmatch patterns of music paths inside the package (or inside its .pk3)
    archive: str | None = None  # a zip (.pk3) inside the package that holds the music
    exclude: tuple[str, ...] = ()  # fnmatch patterns of file names to skip (another version of a piece taken)


PACKAGES: tuple[Package, ...] = (
    Package(
        "hyperrogue-music",
        "dev",
        "GPL-2+ (Zeno Rogue and the composers of HyperRogue)",
        "game score: orchestral, ambient, folk, electronic",
        10,
        ("usr/share/hyperrogue/music/*.ogg",),
    ),
    Package(
        "drascula-music",
        "dev",
        "Drascula licence (BSD-like, Alcachofa Soft; DFSG-free per debian/copyright)",
        "adventure score: light orchestral, jazz, tango, horror",
        10,
        ("usr/share/scummvm/drascula/audio/*.ogg",),
    ),
    Package(
        "nexuiz-music",
        "dev",
        "GPL-2+ (Alientrap)",
        "shooter soundtrack: techno, drum and bass, industrial, ambient",
        10,
        ("sound/cdtracks/*.ogg",),
        archive="usr/share/games/nexuiz/data/music.pk3",
    ),
    Package(
        "asc-music",
        "dev",
        "GPL-2+ (Michael Kievernagel)",
        "strategy soundtrack: rock, orchestral",
        3,
        ("usr/share/games/asc/music/*.mp3",),
    ),
    Package(
        "freedroidrpg-data",
        "dev",
        "GPL-2+ (the FreedroidRPG team and its composers)",
        "sci-fi RPG score: ambient, battle and town themes",
        10,
        ("usr/share/freedroidrpg/data/sound/music/*.ogg",),
    ),
    Package(
        "warzone2100-music",
        "heldout",
        "GPL-2+ (original soundtrack); CC BY-SA 3.0+ (LupusMechanicus's Legacy and Aftermath albums)",
        "strategy soundtrack: electronic, industrial, orchestral",
        14,
        ("usr/share/games/warzone2100/music/albums/*/*.opus",),
    ),
    Package(
        "singularity-music",
        "heldout",
        "CC BY-SA 3.0 (Max McCracken)",
        "ambient, electronic, piano",
        13,
        ("usr/share/games/singularity/music/*.ogg",),
    ),
    Package(
        "supertuxkart-data",
        "heldout",
        "CC BY-SA 3.0 / 4.0, one track GPL (0zone0ne, Krobonil, Claude Werner, DJHelium, Weirwood and others)",
        "kart racing music: themed tracks from celtic to electronic",
        12,
        ("usr/share/games/supertuxkart/data/music/*.ogg",),
        exclude=("*_fast.ogg", "*_f.ogg"),  # faster versions of pieces already in the folder
    ),
    Package(
        "hedgewars-data",
        "heldout",
        "GPL-2 (the Hedgewars project)",
        "artillery game themes: pirate, oriental, Halloween, underwater and others",
        12,
        ("usr/share/games/hedgewars/Data/Music/*.ogg",),
    ),
    Package(
        "megaglest-data",
        "heldout",
        "CC BY-SA 3.0 (the Glest and MegaGlest teams and contributors)",
        "strategy game faction themes and the menu theme",
        8,
        (
            "usr/share/games/megaglest/techs/megapack/factions/*/music/*.ogg",
            "usr/share/games/megaglest/data/core/menu/music/*.ogg",
        ),
    ),
    Package(
        "widelands-data",
        "heldout",
        "GPL-2+ (the Widelands team); CC BY-SA 3.0 (Stuart Marshall, 3 tracks)",
        "settlement strategy score",
        12,
        ("usr/share/games/widelands/data/music/*.ogg",),
    ),
    Package(
        "openclonk-data",
        "heldout",
        "CC BY 3.0 or CC0 (the OpenClonk team's game content)",
        "sandbox game soundtrack",
        8,
        ("usr/share/games/openclonk/Music.ocg/*.ogg",),
    ),
    Package(
        "wesnoth-1.16-music",
        "train",
        "GPL-2+ (the Battle for Wesnoth project and its composers)",
        "fantasy strategy score: orchestral",
        12,
        ("usr/share/games/wesnoth/1.16/data/core/music/*.ogg",),
    ),
    Package(
        "flare-game",
        "train",
        "CC BY-SA 3.0+ (the Flare project's artists)",
        "fantasy RPG score: orchestral, ambient",
        10,
        ("usr/share/games/flare/mods/fantasycore/music/*.ogg",),
    ),
    Package(
        "pushover-data",
        "train",
        "GPL-3+ (the Pushover authors)",
        "puzzle game level themes (aztec, japanese, space, mechanic ...)",
        10,
        ("usr/share/pushover/themes/*.ogg",),
    ),
    Package(
        "extremetuxracer-data",
        "train",
        "GPL-2+ (the Extreme Tux Racer authors)",
        "racing game music: menu, race and credits tracks",
        6,  # all of its tracks of at least 40 s
        ("usr/share/games/etr/music/*.ogg",),
    ),
    Package(
        "xmoto-data",
        "train",
        "GPL-2+ (the X-Moto authors)",
        "motocross game music: menu and level tracks",
        7,
        ("usr/share/games/xmoto/Textures/Musics/*.ogg",),
    ),
)

SPLITS = ("dev", "heldout", "train")


@dataclass(frozen=True)
class Track:
    """One music file of a package: ``key`` names it in caches and reports (package and path, file-safe)."""

    package: str
    version: str
    path: Path
    relpath: str

    @property
    def key(self) -> str:
        return f"{self.package}__{Path(self.relpath).with_suffix('').as_posix().replace('/', '_').replace(' ', '_')}"


def packages_of(split: str, catalogue: tuple[Package, ...] = PACKAGES) -> list[Package]:
    """The packages of ``split`` ("dev", "heldout" or "train")."""
    if split not in SPLITS:
        raise RecordedError(f"set {split!r}: expected one of {', '.join(SPLITS)}")
    return [p for p in catalogue if p.split == split]


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        raise RecordedError(f"{what}: {cmd[0]} is not installed")
    out = subprocess.run([exe, *cmd[1:]], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        msg = (out.stderr or out.stdout).strip().splitlines()
        raise RecordedError(f"{what}: {cmd[0]} failed: {msg[-1] if msg else 'exit ' + str(out.returncode)}")
    return out.stdout


def fetch(pkg: Package, cache: Path) -> tuple[Path, str]:
    """(folder of the unpacked package, Debian version): ``apt-get download`` and ``dpkg-deb -x`` when not done yet."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg.name}_*.deb"))
    if not found:
        # apt's _apt user cannot write into a root-owned cache: let root do it (apt warns, harmless)
        _run(["apt-get", "download", "-q", pkg.name], f"package {pkg.name}", cwd=debs)
        found = sorted(debs.glob(f"{pkg.name}_*.deb"))
        if not found:
            raise RecordedError(f"package {pkg.name}: apt-get download left no {pkg.name}_*.deb in {debs}")
    deb = found[-1]
    version = deb.name.split("_")[1]
    root = cache / "pkgs" / f"{pkg.name}_{version}"
    done = root / ".unpacked"
    if not done.is_file():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"package {pkg.name}")
        if pkg.archive:
            try:
                with zipfile.ZipFile(root / pkg.archive) as z:
                    z.extractall(root / "archive")
            except (OSError, zipfile.BadZipFile) as e:
                raise RecordedError(f"package {pkg.name}: {pkg.archive}: {e}") from None
        done.write_text(deb.name + "\n")
    return root, version


def _duration(path: Path) -> float:
    import soundfile as sf

    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise RecordedError(f"{path}: soundfile cannot read it ({e})") from None


def tracks(pkg: Package, cache: Path) -> list[Track]:
    """The package's chosen music files (fetched first), in a fixed hash order; see the module docstring."""
    root, version = fetch(pkg, cache)
    base = root / "archive" if pkg.archive else root
    files = [
        p
        for p in sorted(base.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in MUSIC_SUFFIXES
        and any(fnmatch.fnmatch(p.relative_to(base).as_posix(), pat) for pat in pkg.patterns)
        and not any(fnmatch.fnmatch(p.name, pat) for pat in pkg.exclude)
    ]
    chosen = [p for p in files if _duration(p) >= MIN_TRACK_SECONDS]
    chosen.sort(key=lambda p: hashlib.sha1(f"{pkg.name}/{p.relative_to(base).as_posix()}".encode()).hexdigest())
    return [Track(pkg.name, version, p, p.relative_to(base).as_posix()) for p in chosen[: pkg.max_tracks]]


def excerpt(path: Path, seconds: float = EXCERPT_SECONDS, start_s: float | None = None) -> np.ndarray:
    """``seconds`` from ``start_s`` (default: the middle of the file): mono float32 at ANALYSIS_RATE, peak at
    PEAK_DBFS. Raises RecordedError for a file too short or unreadable."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            rate, n = f.samplerate, f.frames
            want = int(round(seconds * rate))
            if n < want:
                raise RecordedError(f"{path}: {n / rate:.1f} s long, shorter than the {seconds:g} s excerpt")
            at = (n - want) // 2 if start_s is None else int(round(start_s * rate))
            if at < 0 or at + want > n:
                raise RecordedError(f"{path}: no {seconds:g} s excerpt at {start_s:g} s in {n / rate:.1f} s")
            f.seek(at)
            data = f.read(want, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise RecordedError(f"{path}: soundfile cannot read it ({e})") from None
    x = data.mean(axis=1)
    if rate != ANALYSIS_RATE:
        x = resample(x, rate, ANALYSIS_RATE)
    return peak_normalise(x, path)


def peak_normalise(x: np.ndarray, what: object) -> np.ndarray:
    """``x`` scaled so its peak is PEAK_DBFS; a silent excerpt is an error naming ``what``."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if not np.isfinite(peak) or peak < 1e-6:
        raise RecordedError(f"{what}: the excerpt is silent (peak {peak:.2g})")
    return (x * (10.0 ** (PEAK_DBFS / 20.0) / peak)).astype(np.float32)


def variant_names() -> list[str]:
    """File stems of the variants, in order: level variants ``0dB``, ``-12dB``, ``-24dB``, then ``x1.25``, ``x0.8``."""
    return [f"{db}dB" for db in LEVELS_DB] + [f"x{t:g}" for t in TEMPI]


def variants_folder(cache: Path, track: Track) -> Path:
    return cache / f"variants-{EXCERPT_VERSION}" / track.key


def make_variants(track: Track, cache: Path) -> dict[str, Path]:
    """The variant WAVs of ``track`` (made when missing), by variant name; see the module docstring."""
    import soundfile as sf

    folder = variants_folder(cache, track)
    paths = {name: folder / f"{name}.wav" for name in variant_names()}
    if all(p.is_file() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    x = excerpt(track.path)
    for db in LEVELS_DB:
        _write(paths[f"{db}dB"], x * np.float32(10.0 ** (db / 20.0)), sf)
    for t in TEMPI:
        out = paths[f"x{t:g}"]
        tmp = out.with_name(f".{out.name}.raw.wav")
        _run(["rubberband", "-q", f"-T{t:g}", str(paths["0dB"]), str(tmp)], f"{track.key}: rubberband")
        y, rate = sf.read(str(tmp), dtype="float32", always_2d=True)
        tmp.unlink()
        if rate != ANALYSIS_RATE:
            raise RecordedError(f"{tmp}: rubberband wrote {rate} Hz, expected {ANALYSIS_RATE}")
        _write(out, peak_normalise(y.mean(axis=1), out), sf)
    return paths


def _write(path: Path, x: np.ndarray, sf) -> None:
    tmp = path.with_name(f".{path.name}.tmp.wav")
    sf.write(str(tmp), x, ANALYSIS_RATE, subtype="FLOAT")
    tmp.replace(path)
