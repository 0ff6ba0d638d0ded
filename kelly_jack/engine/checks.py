"""``kelly-jack doctor``: the checks for what a Linux audio setup gets wrong.

Each check is a small function returning a ``Result`` (status, what was found,
what to do); the machine-facing inputs (``/proc``, ``/sys``, ``/etc``, the
environment, the JACK probe) are parameters so tests can hand them controlled
values. ``run_checks`` runs them all in order. Main thread only; nothing here
touches a running client, and the only thing done to a server is opening and
closing one probe client on it (never starting one).

Telling PipeWire from JACK2 is ``kelly_jack.jack.server_kind``'s job (by the
libjack this process loaded); running ``jackd``/``jackdbus``/``pipewire``
processes are listed to explain a failed connection.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import resource
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..jack.server_kind import loaded_libjack, server_kind

OK, INFO, WARN, FAIL = "OK", "INFO", "WARN", "FAIL"

# without a running server the inference time is compared with this period (stated in the output)
DEFAULT_PERIOD = 128
DEFAULT_RATE = 48000
RTPRIO_OK = 10  # jackd2's default -P (client threads run just below it)
MEMLOCK_OK = 256 * 1024 * 1024  # bytes; audio.conf sets unlimited
START_SERVER = (
    "start one: `jackd -d alsa -r 48000 -p 128` (or qjackctl's Start), or run PipeWire with pipewire-jack "
    "and start kelly-jack under `pw-jack`"
)


@dataclass(frozen=True)
class Result:
    """One check's outcome: ``status`` (OK/INFO/WARN/FAIL), ``found`` (one line), ``fix`` (empty when OK/INFO)."""

    name: str
    status: str
    found: str
    fix: str = ""

    def lines(self) -> list[str]:
        out = [f"{self.status:<5} {self.name}: {self.found}"]
        if self.fix:
            out.append(f"      -> {self.fix}")
        return out


@dataclass(frozen=True)
class ServerInfo:
    """What the probe client saw: the server's rate (Hz), period (frames), realtime flag and implementation."""

    kind: str  # "JACK2" or "PipeWire"
    library: str  # libjack path and version string
    rate: int
    period: int
    realtime: bool


# ---------------------------------------------------------------- the server


def running_processes(proc: Path = Path("/proc")) -> list[tuple[str, list[str]]]:
    """(comm, argv) of every process readable under ``proc``."""
    out = []
    for d in proc.iterdir() if proc.is_dir() else ():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip()
            argv = [a for a in (d / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
        except OSError:
            continue
        out.append((comm, argv))
    return out


def jack_servers_running(processes: Iterable[tuple[str, list[str]]]) -> tuple[list[str], bool]:
    """The server names of running jackd/jackdbus processes, and whether a pipewire process runs."""
    names, pipewire = [], False
    for comm, argv in processes:
        if comm in ("jackd", "jackdbus"):
            name = "default"
            for i, a in enumerate(argv):
                if a in ("-n", "--name") and i + 1 < len(argv):
                    name = argv[i + 1]
                elif a.startswith("--name="):
                    name = a.split("=", 1)[1]
            names.append(name if comm == "jackd" else "default (jackdbus)")
        elif comm == "pipewire":
            pipewire = True
    return sorted(set(names)), pipewire


def probe_server(server: str | None) -> ServerInfo:
    """Open and close one client on ``server`` (never starting one); raises ``jack.JackOpenError`` if none answers."""
    import jack

    said: list[str] = []  # libjack's own lines on failure: keep them off the user's terminal
    jack.set_error_function(said.append)
    jack.set_info_function(said.append)
    try:
        client = jack.Client("kelly-doctor", no_start_server=True, servername=server)
    finally:
        jack.set_error_function(None)
        jack.set_info_function(None)
    try:
        path, version = loaded_libjack(), jack.version_string()
        return ServerInfo(
            server_kind(path, version), f"{path or jack._libname} {version}", client.samplerate, client.blocksize,
            bool(client.realtime),
        )  # fmt: skip
    finally:
        client.close()


def resolve_server(cli_server: str | None, cfg: dict | None, env: dict[str, str]) -> tuple[str | None, str]:
    """The server name to probe and where it came from: --server, client.server, $JACK_DEFAULT_SERVER, default."""
    if cli_server:
        return cli_server, "--server"
    if cfg and cfg["client"].get("server"):
        return cfg["client"]["server"], "client.server"
    if env.get("JACK_DEFAULT_SERVER"):
        return env["JACK_DEFAULT_SERVER"], "$JACK_DEFAULT_SERVER"
    return None, "default"


def check_server(
    server: str | None,
    source: str,
    probe: Callable[[str | None], ServerInfo] = probe_server,
    processes: Callable[[], list[tuple[str, list[str]]]] = running_processes,
    libjack: Callable[[], str] = loaded_libjack,
) -> tuple[Result, ServerInfo | None]:
    """Is a JACK server (jackd2 or PipeWire's JACK) answering under ``server``? FAIL says how to start one."""
    shown = f"{server!r} (from {source})" if server else "'default'"
    try:
        info = probe(server)
    except Exception as e:  # jack.JackOpenError, or libjack missing altogether
        names, pipewire = jack_servers_running(processes())
        through = server_kind(libjack(), "")
        seen = [f"through {'PipeWire' if through == 'PipeWire' else 'jackd2'}'s libjack"]
        if names:
            seen.append("jackd running as server " + ", ".join(repr(n) for n in names))
        if pipewire:
            seen.append("a pipewire process running")
        found = f"no JACK server {shown} answered ({e}); " + "; ".join(seen)
        if through == "PipeWire":
            fix = "start PipeWire for this user (`systemctl --user start pipewire`; same XDG_RUNTIME_DIR)"
            fix += f", or run kelly-jack without pw-jack to reach jackd ({', '.join(names)})" if names else ""
        else:
            fixes = (
                ["for PipeWire, start kelly-jack as `pw-jack kelly-jack` (package pipewire-jack)"] if pipewire else []
            )
            if names:
                fixes.append(f"choose a running jackd with --server NAME or client.server ({', '.join(names)})")
            fix = "; or ".join([*fixes, START_SERVER])
        return Result("server", FAIL, found, fix), None
    realtime = "realtime" if info.realtime else "not realtime"
    found = f"{info.kind} server {shown}: {info.rate} Hz, {info.period} frames per period, {realtime} ({info.library})"
    if not info.realtime and info.kind == "JACK2":
        return Result("server", WARN, found, "restart jackd without --no-realtime (-R is its default)"), info
    return Result("server", OK, found), info


def check_period(info: ServerInfo | None) -> Result:
    """The period length in ms; INFO with the assumed 128 frames at 48 kHz when no server answered."""
    if info is None:
        ms = DEFAULT_PERIOD / DEFAULT_RATE * 1000
        return Result("period", INFO, f"no server: assuming {DEFAULT_PERIOD} frames at {DEFAULT_RATE} Hz = {ms:.2f} ms")
    ms = info.period / info.rate * 1000
    found = f"{info.period} frames at {info.rate} Hz = {ms:.2f} ms"
    if info.period > 1024:
        return Result("period", WARN, found, "a period above 1024 frames adds latency: use 128 or 256 frames")
    return Result("period", OK, found)


# ---------------------------------------------------------------- limits and groups


def limit_lines(etc: Path = Path("/etc/security")) -> list[str]:
    """The active (uncommented) rtprio/memlock lines of limits.conf and limits.d/*.conf, as 'file: line'."""
    files = [etc / "limits.conf", *sorted((etc / "limits.d").glob("*.conf"))]
    out = []
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if re.search(r"\b(rtprio|memlock)\b", line):
                out.append(f"{f}: {' '.join(line.split())}")
    return out


def granting_groups(limits: list[str]) -> list[str]:
    """The groups that the limits lines give an rtprio (``@audio - rtprio 95`` -> audio), audio first."""
    names = {line.split(": ", 1)[1].split()[0][1:] for line in limits if "rtprio" in line and ": @" in line}
    return sorted(names, key=lambda n: (n != "audio", n))


def group_state(
    name: str, user: str, groups: list[int], group_db: Callable[[str], grp.struct_group] = grp.getgrnam
) -> str:
    """'member', 'listed' (in /etc/group but not in this login: log in again), 'no', or 'none' (no such group)."""
    try:
        g = group_db(name)
    except KeyError:
        return "none"
    if g.gr_gid in groups:
        return "member"
    return "listed" if user in g.gr_mem else "no"


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def check_rtprio(
    rtprio: tuple[int, int] | None = None,
    uid: int | None = None,
    membership: Callable[[str], str] | None = None,
    limits: list[str] | None = None,
    pipewire: bool = False,
) -> Result:
    """RLIMIT_RTPRIO (soft limit), the groups the limits files grant rtprio to, and whether you are in them.

    ``membership(group)`` gives ``group_state`` for this user (default: the real groups).
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO) if rtprio is None else rtprio
    uid = os.getuid() if uid is None else uid
    if membership is None:
        user, gids = _current_user(), os.getgroups()
        membership = lambda name: group_state(name, user, gids)  # noqa: E731
    limits = limit_lines() if limits is None else limits
    groups = granting_groups(limits)
    states = {g: membership(g) for g in groups or ["audio"]}
    found = f"realtime priority limit {soft}; " + (
        "rtprio granted to " + ", ".join(f"@{g} (you: {states[g]})" for g in groups) + " in /etc/security/limits*"
        if groups
        else f"no rtprio line for a group in /etc/security/limits* (audio group, you: {states['audio']})"
    )
    if uid == 0:
        return Result("realtime", INFO, found + "; running as root (may use realtime regardless; not recommended)")
    if soft >= RTPRIO_OK:
        return Result("realtime", OK, found)
    if "listed" in states.values():
        fix = "you were added to the group after logging in: log out and in again"
    elif not groups:
        fix = (
            "create /etc/security/limits.d/audio.conf with `@audio - rtprio 95` and `@audio - memlock unlimited` "
            "(Debian: `sudo dpkg-reconfigure -p high jackd2`, answer yes), then `sudo usermod -aG audio $USER`, "
            "log out and in"
        )
    elif "member" not in states.values():
        fix = f"`sudo usermod -aG {groups[0]} $USER`, then log out and in"
    else:
        fix = "the limits file is not applied to this login (pam_limits): log in again, or check /etc/pam.d"
    if soft == 0 and not pipewire:
        return Result("realtime", FAIL, found, fix)
    note = " (PipeWire gets realtime through RTKit, kelly's own threads do not)" if pipewire else ""
    return Result("realtime", WARN, found + note, fix)


def check_memlock(memlock: tuple[int, int] | None = None) -> Result:
    """RLIMIT_MEMLOCK: JACK locks its memory; unlimited (or >= 256 MiB) is OK."""
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK) if memlock is None else memlock
    if soft == resource.RLIM_INFINITY:
        return Result("memlock", OK, "locked-memory limit unlimited")
    found = f"locked-memory limit {soft // 1024} KiB"
    if soft >= MEMLOCK_OK:
        return Result("memlock", OK, found)
    return Result(
        "memlock",
        WARN,
        found + " (JACK locks its buffers in RAM: beyond this limit locking fails and they may be swapped out)",
        "add `@audio - memlock unlimited` to /etc/security/limits.d/audio.conf, be in the audio group, log in again",
    )


# ---------------------------------------------------------------- CPU and caches


def check_governor(sys_cpu: Path = Path("/sys/devices/system/cpu")) -> Result:
    """Every CPU's scaling_governor; INFO when there is no cpufreq (VMs, fixed-frequency CPUs)."""
    governors = {}
    for f in sorted(sys_cpu.glob("cpu[0-9]*/cpufreq/scaling_governor")):
        try:
            governors[f.parent.parent.name] = f.read_text().strip()
        except OSError:
            continue
    if not governors:
        return Result("governor", INFO, f"no cpufreq under {sys_cpu} (a VM or a fixed-frequency CPU): nothing to set")
    counts = {g: sum(1 for v in governors.values() if v == g) for g in sorted(set(governors.values()))}
    found = "CPU frequency governor " + ", ".join(f"{g} on {n} of {len(governors)} CPUs" for g, n in counts.items())
    if set(counts) == {"performance"}:
        return Result("governor", OK, found)
    return Result(
        "governor",
        WARN,
        found + " (clock changes cause xruns)",
        "`sudo cpupower frequency-set -g performance` (package linux-cpupower), or set it in your power settings",
    )


def numba_cache_dir(env: dict[str, str], package_dir: Path, redirected: bool = False) -> tuple[Path, str]:
    """Where Numba writes kelly's compiled kernels, and why: NUMBA_CACHE_DIR, else __pycache__ in the package.

    ``redirected``: kelly_jack set NUMBA_CACHE_DIR itself (its package folder is read-only).
    """
    if env.get("NUMBA_CACHE_DIR"):
        why = "the package folder is read-only: the user cache" if redirected else "NUMBA_CACHE_DIR"
        return Path(env["NUMBA_CACHE_DIR"]), why
    return package_dir, "the package's __pycache__ folders"


def _writable(d: Path) -> str:
    """'' if a file can be created in ``d`` (made if missing), else why not."""
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
        return ""
    except OSError as e:
        return e.strerror or str(e)


def check_numba_cache(
    env: dict[str, str] | None = None, package_dir: Path | None = None, redirected: bool | None = None
) -> Result:
    """Can Numba write its cache? If not (WARN), every start compiles the kernels again: slow, but it runs."""
    from .. import numba_cache_redirected

    env = dict(os.environ) if env is None else env
    package_dir = Path(__file__).resolve().parent if package_dir is None else package_dir
    redirected = numba_cache_redirected if redirected is None else redirected
    where, why = numba_cache_dir(env, package_dir, redirected)
    if env.get("NUMBA_CACHE_DIR"):
        problem = _writable(where)
    else:  # the kernels live in subpackages: each __pycache__ next to them must take files
        dirs = sorted({p.parent / "__pycache__" for p in package_dir.rglob("*.py")})
        problem = next((f"{d}: {p}" for d in dirs if (p := _writable(d))), "")
    found = f"Numba cache in {where} ({why})"
    if not problem:
        kernels = len(list(where.rglob("*.nbi")))
        return Result("numba cache", OK, f"{found}: writable, {kernels} kernels cached so far")
    return Result(
        "numba cache",
        WARN,
        f"{found}: not writable ({problem}); kernels would be compiled again at every start",
        "export NUMBA_CACHE_DIR=~/.cache/kelly-jack/numba (a folder you can write), or unset it so kelly-jack "
        "picks that folder itself when its package is read-only",
    )


# ---------------------------------------------------------------- the config and the model


def check_config(cfg: dict) -> Result:
    """Which config is in use (--config, $KELLY_JACK_CONFIG, the user config or the built-in defaults): INFO."""
    from ..config import describe_source

    return Result("config", INFO, describe_source(cfg))


def check_model(cfg: dict) -> tuple[Result, object | None]:
    """Does the configured backend load? The ConfigError's one line when not."""
    from ..config import ConfigError, backend_options
    from ..plugins import load_plugins
    from .parts import build_backend

    plugins = load_plugins(cfg["plugins"]["modules"])
    try:
        backend, _ = build_backend(cfg, plugins)
    except ConfigError as e:
        return Result("model", FAIL, str(e), "fix the backend block of the config (docs/backends.md)"), None
    model = backend_options(cfg).get("model")  # resolved: the shipped model's path for `model: default`
    found = f"backend {backend.name!r} loaded" + (f" from {model}" if model else "")
    if plugins.errors:  # the client prints these as warnings at every start
        found += "; plugin problems: " + " | ".join(plugins.errors)
        return Result("model", WARN, found, "fix or remove the plugin (plugins.modules, or uninstall it)"), backend
    return Result("model", OK, found), backend


def check_inference(seconds: float, runs: int, info: ServerInfo | None, budget_frames: int) -> Result:
    """One inference's median time against the period (from the server, else 128 at 48 kHz) and the budget.

    OK within one period; WARN above a period but within latency.inference_budget
    (the inference thread keeps up, but takes CPU from other clients); FAIL above
    the budget (results would arrive late).
    """
    rate, period, source = (info.rate, info.period, "server") if info else (DEFAULT_RATE, DEFAULT_PERIOD, "assumed")
    period_ms, budget_ms, ms = period / rate * 1000, budget_frames / rate * 1000, seconds * 1000
    found = (
        f"one inference takes {ms:.3f} ms (median of {runs}) = {100 * ms / period_ms:.1f}% of a period "
        f"({period} frames at {rate} Hz = {period_ms:.2f} ms, {source}); inference budget {budget_ms:.1f} ms"
    )
    if ms <= period_ms:
        return Result("inference", OK, found)
    if ms <= budget_ms:
        return Result(
            "inference", WARN, found, "it fits the budget but takes more than a period of CPU: a smaller model helps"
        )
    return Result(
        "inference",
        FAIL,
        found + ": results would arrive late",
        f"raise latency.inference_budget to at least {int(ms * 1.5) + 1}ms, or use a smaller model",
    )


# ---------------------------------------------------------------- all of them


def run_checks(cfg: dict, cli_server: str | None, runs: int = 50) -> list[Result]:
    """Every check in order (the model and inference last: they may compile kernels)."""
    from ..inference.budget import time_inference
    from .latency import LatencyManager

    server, source = resolve_server(cli_server, cfg, dict(os.environ))
    server_result, info = check_server(server, source)
    _, pipewire = jack_servers_running(running_processes())
    results = [
        check_config(cfg),
        server_result,
        check_period(info),
        check_rtprio(pipewire=bool(info and info.kind == "PipeWire") or pipewire),
        check_memlock(),
        check_governor(),
        check_numba_cache(),
    ]
    model_result, backend = check_model(cfg)
    results.append(model_result)
    if backend is not None:
        rate = info.rate if info else DEFAULT_RATE
        budget = LatencyManager.from_config(cfg["latency"]).budget_frames(rate)
        results.append(check_inference(time_inference(backend, runs), runs, info, budget))
    return results
