"""The checks on recorded music: level, tempo and rank agreement, the report, and the held-out looks log.

``run(...)`` fetches the set's packages, makes every track's variants, measures each model
(and the peer, when given) on every variant, and returns the report (``checks`` per system,
per-track values, the tracks with package versions). For each system (a kelly model file:
valence, arousal; VibeNet: valence, energy), over the tracks:

* level: ``shift`` = mean over tracks of (value at 0 dB - value at -12 / -24 dB), as a
  fraction of ``spread``, the standard deviation (ddof 1) of the value across tracks at
  0 dB; ``softer_lower`` counts the tracks whose softer variant is lower;
* tempo: ``faster_higher``, the tracks whose arousal (energy) at 1.25x exceeds 0.8x;
* rank: Spearman correlation between each model and the peer across tracks at 0 dB
  (valence with valence, arousal with energy);
* against the peer: the tracks whose stretches only the model orders, those only the peer
  orders, and the one-sided sign test of the first count against the second;
* per package: the tempo count of each package's tracks.

``summarise(report)`` computes all of these from the report's per-track values, so
``subset(report, packages)`` can give the figures of some packages from a saved report
without measuring anything (and without a look). A run on the held-out set appends one
line to the looks log (``looks_log``) once its figures are computed and before anyone sees
them; a development run never writes it.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .recorded import PACKAGES, Package, RecordedError, make_variants, packages_of, tracks
from .recorded_measure import WARMUP_SECONDS, KellyMeasure, VibeNetPeer

GOALS = {"level_arousal": 0.25, "level_valence": 0.15, "tempo": 0.9}
LOOKS_HEADER = (
    "# Looks at the held-out recorded tracks\n\n"
    "One line per run of `scripts/eval_recorded.py --set heldout` (appended by the script; development runs\n"
    "are not logged). The model card says how often the held-out set was looked at from this file.\n\n"
    "| date (UTC) | models (sha256, first 12) | peer | tracks | command |\n"
    "| --- | --- | --- | --- | --- |\n"
)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); nan when either side is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if np.std(ra) == 0 or np.std(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def tempo_ordered(values: dict[str, dict[str, tuple[float, float]]]) -> set[str]:
    """The tracks whose arousal (energy) at 1.25x exceeds 0.8x: the tempo rule, in one place."""
    return {k for k, v in values.items() if v["x1.25"][1] > v["x0.8"][1]}


def checks(values: dict[str, dict[str, tuple[float, float]]], dims: tuple[str, str]) -> dict:
    """The level and tempo figures of one system from ``values[track][variant] = (dim0, dim1)``."""
    keys = sorted(values)
    out: dict = {"tracks": len(keys), "dims": list(dims)}
    base = np.array([values[k]["0dB"] for k in keys], dtype=np.float64)
    for d, dim in enumerate(dims):
        spread = float(np.std(base[:, d], ddof=1)) if len(keys) > 1 else float("nan")
        for db in (-12, -24):
            soft = np.array([values[k][f"{db}dB"][d] for k in keys])
            shift = float(np.mean(base[:, d] - soft))
            out[f"level{db}_{dim}"] = {
                "shift": shift,
                "spread": spread,
                "shift_over_spread": shift / spread if spread > 0 else float("nan"),
                "softer_lower": int(np.sum(soft < base[:, d])),
            }
    n = len(tempo_ordered(values))
    out[f"tempo_{dims[1]}"] = {"faster_higher": n, "share": n / len(keys) if keys else float("nan")}
    return out


def sign_test(wins: int, losses: int) -> float:
    """One-sided sign test: the chance of at least ``wins`` of ``wins + losses`` fair coin tosses."""
    n = wins + losses
    return sum(math.comb(n, i) for i in range(wins, n + 1)) / 2**n if n else 1.0


def summarise(report: dict) -> dict:
    """``report`` with every system's figures (re)computed from ``report["values"]``; see the module docstring."""
    package_of = {t["key"]: t["package"] for t in report["tracks"]}
    peer_name = next((n for n, s in report["systems"].items() if s.get("peer")), None)
    for name, sysrep in report["systems"].items():
        vals = report["values"][name]
        dims = ("valence", "energy") if sysrep.get("peer") else ("valence", "arousal")
        identity = {k: sysrep[k] for k in ("model", "sha256", "peer") if k in sysrep}
        sysrep.clear()
        sysrep.update(identity | checks(vals, dims))
        ordered = tempo_ordered(vals)
        by_package: dict[str, list[int]] = {}
        for k in vals:
            counts = by_package.setdefault(package_of[k], [0, 0])
            counts[0] += k in ordered
            counts[1] += 1
        sysrep["tempo_by_package"] = by_package
        if peer_name is None or name == peer_name:
            continue
        peer_vals = report["values"][peer_name]
        keys = sorted(vals)

        def column(values, d, keys=keys):
            return np.array([values[k]["0dB"][d] for k in keys])

        sysrep["spearman_vs_peer"] = {
            "valence": spearman(column(vals, 0), column(peer_vals, 0)),
            "arousal_vs_energy": spearman(column(vals, 1), column(peer_vals, 1)),
        }
        peer_ordered = tempo_ordered(peer_vals)
        only_this, only_peer = sorted(ordered - peer_ordered), sorted(peer_ordered - ordered)
        sysrep["tempo_vs_peer"] = {
            "only_this": only_this,
            "only_peer": only_peer,
            "sign_p": sign_test(len(only_this), len(only_peer)),
        }
    return report


def subset(report: dict, packages: list[str]) -> dict:
    """A copy of ``report`` restricted to the tracks of ``packages``, its figures recomputed; RecordedError
    names a package the report does not hold."""
    held = {t["package"] for t in report["tracks"]}
    unknown = [p for p in packages if p not in held]
    if unknown:
        raise RecordedError(f"package {unknown[0]}: not in the report (it holds {', '.join(sorted(held))})")
    tracks_ = [t for t in report["tracks"] if t["package"] in packages]
    keys = {t["key"] for t in tracks_}
    return summarise(
        report
        | {
            "tracks": tracks_,
            "systems": {n: dict(s) for n, s in report["systems"].items()},
            "values": {n: {k: v for k, v in vals.items() if k in keys} for n, vals in report["values"].items()},
        }
    )


def append_look(log: Path, models: list[KellyMeasure], peer: str, tracks_n: int, command: str) -> None:
    """Append one held-out look to ``log`` (created with its header when missing)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    shas = ", ".join(f"{Path(m.model).name} {m.sha256[:12]}" for m in models)
    text = log.read_text() if log.is_file() else LOOKS_HEADER
    line = f"| {now} | {shas} | {peer or 'none'} | {tracks_n} | `{command.replace('|', '/')}` |\n"
    atomic_write(log, (text + line).encode())


def run(
    split: str,
    models: list[str | Path],
    cache: Path,
    peer: VibeNetPeer | None,
    looks_log: Path,
    command: str,
    catalogue: tuple[Package, ...] = PACKAGES,
    refresh: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """The report of ``models`` (and ``peer``) on the tracks of ``split``; see the module docstring."""
    if not models:
        raise RecordedError("no --model given")
    measures = [KellyMeasure(m, cache, refresh) for m in models]
    all_tracks = []
    for pkg in packages_of(split, catalogue):
        got = tracks(pkg, cache)
        log(f"{pkg.name}: {len(got)} tracks")
        all_tracks += got
    if len(all_tracks) < 2:
        raise RecordedError(f"set {split}: {len(all_tracks)} tracks, need at least 2")
    wavs: dict[str, dict[str, Path]] = {}
    for i, t in enumerate(all_tracks):
        wavs[t.key] = make_variants(t, cache)
        if (i + 1) % 10 == 0:
            log(f"variants: {i + 1}/{len(all_tracks)} tracks")
    report: dict = {
        "set": split,
        "warmup_seconds": WARMUP_SECONDS,
        "tracks": [{"key": t.key, "package": t.package, "version": t.version, "file": t.relpath} for t in all_tracks],
        "systems": {},
        "values": {},
    }
    for m in measures:
        name = f"kelly {Path(m.model).name} ({m.sha256[:12]})"
        report["values"][name] = {k: {v: m(f"{k}/{v}", p) for v, p in w.items()} for k, w in wavs.items()}
        report["systems"][name] = {"model": m.model, "sha256": m.sha256}
        m.save()
        log(f"measured {name}")
    peer_name = ""
    if peer is not None:
        flat = peer.measure({f"{k}/{v}": p for k, w in wavs.items() for v, p in w.items()})
        peer_name = f"VibeNet {peer.version}"
        report["values"][peer_name] = {k: {v: flat[f"{k}/{v}"] for v in w} for k, w in wavs.items()}
        report["systems"][peer_name] = {"peer": True}
    summarise(report)
    if split == "heldout":
        append_look(looks_log, measures, peer_name, len(all_tracks), command)
    return report


def _f(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def table(report: dict) -> str:
    """The figures as a Markdown table: one row per check, one column per system, and the goal."""
    names = list(report["systems"])
    rows = [
        "| check | goal | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for db in (-12, -24):
        for dim_i, goal in ((1, GOALS["level_arousal"]), (0, GOALS["level_valence"])):
            cells = []
            for n in names:
                s = report["systems"][n]
                dim = s["dims"][dim_i]
                c = s[f"level{db}_{dim}"]
                cells.append(f"{_f(c['shift_over_spread'])} ({dim}; softer lower {c['softer_lower']}/{s['tracks']})")
            label = "arousal/energy" if dim_i == 1 else "valence"
            g = f"abs <= {goal}" if db == -12 else ""
            rows.append(f"| level {db} dB: mean shift / spread, {label} | {g} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        s = report["systems"][n]
        c = s[f"tempo_{s['dims'][1]}"]
        cells.append(f"{100 * c['share']:.0f} % ({c['faster_higher']}/{s['tracks']})")
    rows.append(f"| tempo: 1.25x above 0.8x | >= {GOALS['tempo']:.0%}, ahead of peer | " + " | ".join(cells) + " |")
    if any("spearman_vs_peer" in report["systems"][n] for n in names):
        for key, label in (("valence", "valence"), ("arousal_vs_energy", "arousal vs energy")):
            cells = [
                _f(report["systems"][n]["spearman_vs_peer"][key]) if "spearman_vs_peer" in report["systems"][n] else ""
                for n in names
            ]
            rows.append(f"| Spearman with peer at 0 dB: {label} | | " + " | ".join(cells) + " |")
        cells = []
        for n in names:
            c = report["systems"][n].get("tempo_vs_peer")
            cells.append(f"{len(c['only_this'])} / {len(c['only_peer'])} (p {c['sign_p']:.2f})" if c else "")
        rows.append(
            "| tempo ordered only by this / only by the peer (one-sided sign test) | | " + " | ".join(cells) + " |"
        )
    for pkg in dict.fromkeys(t["package"] for t in report["tracks"]):
        cells = ["{}/{}".format(*report["systems"][n]["tempo_by_package"].get(pkg, (0, 0))) for n in names]
        rows.append(f"| tempo, {pkg} | | " + " | ".join(cells) + " |")
    return "\n".join(rows)
