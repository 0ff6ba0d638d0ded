#!/usr/bin/env python3
"""Benchmark: how long kelly-jack takes to start, with an empty and with a filled Numba cache.

Two starts are timed, each as a fresh kelly-jack process (``kelly_jack.cli.main``
under a small wrapper, see ``WRAPPER``), wall seconds from ``Popen`` until:

* **live**: kelly's start line on stdout, which it prints once its JACK client
  is active: its first period is processed at most one period (2.7 ms at 128
  frames, 48 kHz) later. kelly is then stopped with SIGINT and its summary must
  count at least one period (otherwise the run is reported as failed). It runs
  on a private ``jackd`` (dummy driver, 48 kHz, 128 frames) under a name of its
  own, stopped by PID;
* **render**: ``kelly-jack render`` of a 0.5 s clip: to its first rendered hop
  (the wrapper stamps the first ``InferenceThreadManager._infer_and_push``) and until
  the process exits.

Each with the kernel cache:

* **cold**: ``NUMBA_CACHE_DIR`` pointed at a new empty folder, as on a
  first start after install: every kernel the config needs is compiled;
* **warm**: the same folder again, filled by the cold run.

Peak RSS, in MB (10^6 bytes): **main**, the kelly process's own ``VmHWM``
(printed by the wrapper at exit; not ``ru_maxrss``, which after Python's
vfork+exec starts at the parent's peak); **own**, main less the JACK server's
shared segment it maps while its client is open (``RssShmem``, read as the
client deactivates; a bare ``jack.Client`` on the same dummy server maps 105 MB
of it too: it is the server's memory, counted in every client's RSS); and
**workers**, the largest of the compile workers it started (each one's own
``VmHWM``; 0 when it started none). ``--baseline TREE`` times another source tree too (e.g. ``git archive``
of an older commit), run for run in turn with this one, and prints the ratios.

    .venv/bin/python scripts/bench_start.py [--config config/studio.yaml] [--runs 3] [--which live,render]
        [--baseline /tmp/old-tree]

Prints one line per run and, with several runs, min / median / max per figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
CORES = 2  # for the idle-machine estimate (this VM's)

# runs kelly_jack.cli.main; prints when the first hop is analysed and, at exit, its own and its children's peak RSS
WRAPPER = """
import sys, time
from kelly_jack.inference import thread as _t
_push = _t.InferenceThreadManager._infer_and_push
def _first(self, *args, _done=[]):
    if not _done:
        _done.append(1)
        print(f"kelly-bench: first-hop {time.time()!r}", file=sys.stderr, flush=True)
    return _push(self, *args)
_t.InferenceThreadManager._infer_and_push = _first
import jack
_deactivate, _shm = jack.Client.deactivate, [0]
def _sample_shm(self, *args, **kwargs):  # JACK's shared segment, mapped while the client is open
    with open("/proc/self/status") as f:
        _shm[0] = max(_shm[0], next((int(x.split()[1]) for x in f if x.startswith("RssShmem:")), 0))
    return _deactivate(self, *args, **kwargs)
jack.Client.deactivate = _sample_shm
from kelly_jack.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:  # VmHWM: this process's own peak (ru_maxrss counts the parent's after vfork)
    me = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
try:
    from kelly_jack.compile_workers import last_run
    kids, kids_cpu = last_run["workers_peak_kb"], last_run.get("workers_cpu_s", [])
except ImportError:  # a tree from before the compile workers
    kids, kids_cpu = 0, []
import resource
own = resource.getrusage(resource.RUSAGE_SELF)
cpu = " ".join(f"{c:.2f}" for c in [own.ru_utime + own.ru_stime, *kids_cpu])
print(f"kelly-bench: maxrss-kb {me} {kids} {_shm[0]}", file=sys.stderr, flush=True)
print(f"kelly-bench: cpu-s {cpu}", file=sys.stderr, flush=True)
sys.exit(code)
"""


class Run:
    """One start: seconds to the start line or first hop, to exit, peak RSS MB of kelly's process and its workers,
    CPU seconds of kelly's process and of each worker, and ``idle``: the wall time these CPU seconds would take
    on an idle machine with ``CORES`` cores (kelly's own CPU, plus the workers' packed on the cores: at least
    the longest one, at least their sum spread over the cores). An estimate, for a machine whose other load
    (scheduled per session: autogroup) keeps the workers from having the cores to themselves."""

    def __init__(self, first: float, total: float, err: str):
        self.first, self.total = first, total
        self.rss = self.workers = self.jack_shm = self.own = float("nan")
        cpu = [float("nan")]
        for line in err.splitlines():
            if line.startswith("kelly-bench: maxrss-kb "):
                me, kids, shm = line.split()[2:5]
                self.rss, self.workers = int(me) * 1024 / 1e6, int(kids) * 1024 / 1e6
                self.jack_shm = int(shm) * 1024 / 1e6
                self.own = self.rss - self.jack_shm
            elif line.startswith("kelly-bench: cpu-s "):
                cpu = [float(x) for x in line.split()[2:]]
        self.cpu, self.worker_cpu = cpu[0], cpu[1:]
        self.all_cpu = self.cpu + sum(self.worker_cpu)  # kelly's process and its workers
        spread = max(max(self.worker_cpu), sum(self.worker_cpu) / CORES) if self.worker_cpu else 0.0
        self.idle = self.cpu + spread

    def __str__(self) -> str:
        workers = "+".join(f"{c:.1f}" for c in self.worker_cpu) or "-"
        return (
            f"{self.first:6.2f} s to first, {self.total:6.2f} s to exit; peak RSS {self.rss:4.0f} MB main "
            f"({self.jack_shm:.0f} MB of it JACK's shared segment), "
            f"{self.workers:4.0f} MB largest worker; CPU {self.cpu:5.1f} s main, {workers} s workers "
            f"(idle {CORES}-core estimate {self.idle:5.1f} s)"
        )


def start_jackd(name: str, timeout: float = 10.0) -> subprocess.Popen:
    """A private jackd (dummy driver, 48 kHz, 128 frames, no realtime) under ``name``, up when it returns."""
    import jack

    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    cmd = ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}")
        try:
            jack.Client("bench-probe", no_start_server=True, servername=name).close()
            return proc
        except jack.JackOpenError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"jackd {name} did not come up in {timeout} s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop one process we started, by its PID."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def reap(proc: subprocess.Popen, timeout: float = 600.0) -> tuple[int, float]:
    """Wait for ``proc``; (exit status, its peak RSS in MB) from ``wait4``."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024 / 1e6
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.01)


def time_live(config: str, server: str, env: dict, cwd: Path) -> Run:
    """One kelly-jack start on ``server``: to the start line (its first period follows within one period)."""
    cmd = [sys.executable, "-c", WRAPPER, "--config", config, "--server", server, "--name", "bench"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    line = proc.stdout.readline()
    seconds = time.perf_counter() - t0
    if not line.startswith("kelly-jack: client"):
        stop(proc)
        raise RuntimeError(f"kelly-jack did not start: {line}{proc.stderr.read()}")
    time.sleep(0.1)  # some periods
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    err = proc.stderr.read()
    code, _ = reap(proc)
    total = time.perf_counter() - t0
    periods = int(out.split("summary: ", 1)[1].split(" periods", 1)[0]) if "summary: " in out else 0
    if code != 0 or periods < 1:
        raise RuntimeError(f"kelly-jack exit {code}, {periods} periods processed: {out}")
    return Run(seconds, total, err)


def time_render(config: str, clip: Path, env: dict, cwd: Path) -> Run:
    """``kelly-jack render`` of ``clip``: to its first hop and to its exit."""
    out = clip.with_suffix(".mid")
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", WRAPPER, "render", str(clip), "-o", str(out), "--config", config]
    wall0, t0 = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    code, _ = reap(proc)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    if code != 0 or not out.exists():
        raise RuntimeError(f"kelly-jack render exit {code}: {err}")
    first = [float(x.split()[2]) - wall0 for x in err.splitlines() if x.startswith("kelly-bench: first-hop ")]
    return Run(first[0] if first else float("nan"), seconds, err)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "config" / "studio.yaml"))
    p.add_argument("--runs", type=int, default=1, help="cold/warm pairs per kind (default 1)")
    p.add_argument("--which", default="live,render", help="live, render or both (default)")
    p.add_argument("--baseline", metavar="TREE", help="also time this source tree (its kelly_jack), in turn")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark still stops its jackd
    kinds = args.which.split(",")
    trees = {"new": ROOT} if not args.baseline else {"new": ROOT, "old": Path(args.baseline).resolve()}
    rows: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="kelly-bench-start-") as tmp:
        clip = Path(tmp) / "clip.wav"
        t = np.arange(24000) / 48000.0
        soundfile.write(clip, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
        server = f"kelly-bench-start-{os.getpid()}"
        jackd = start_jackd(server) if "live" in kinds else None
        try:
            for run in range(args.runs):
                for kind in kinds:
                    order = list(trees.items()) if run % 2 == 0 else list(trees.items())[::-1]
                    for tree, root in order:
                        cache = Path(tmp) / f"cache-{tree}-{kind}-{run}"
                        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
                        env.pop("JACK_DEFAULT_SERVER", None)
                        for phase in ("cold", "warm"):
                            if kind == "live":
                                r = time_live(args.config, server, env, root)  # cwd: first on sys.path
                            else:
                                r = time_render(args.config, clip, env, root)
                            rows.setdefault(f"{tree} {kind} {phase}", []).append(r)
                            print(f"{tree:3} {kind:6} {phase}: {r}", flush=True)
        finally:
            if jackd is not None:
                stop(jackd)
    print("\nmedian (min-max):")
    for key, runs in rows.items():
        cols = []
        for name, unit in (
            ("first", "s"),
            ("total", "s"),
            ("rss", "MB"),
            ("own", "MB"),
            ("workers", "MB"),
            ("idle", "s"),
        ):
            v = sorted(getattr(r, name) for r in runs)
            cols.append(f"{name} {statistics.median(v):.2f} ({v[0]:.2f}-{v[-1]:.2f}) {unit}")
        print(f"{key:18} " + ";  ".join(cols))
    if len(trees) == 2:
        print("\nnew / old, per run (median of the ratios):")
        for key in [k for k in rows if k.startswith("new ")]:
            new, old = rows[key], rows["old " + key[4:]]
            for name in ("first", "total", "rss", "all_cpu", "idle"):
                ratios = sorted(getattr(a, name) / getattr(b, name) for a, b in zip(new, old, strict=True))
                print(f"{key[4:]:14} {name:6} {statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
