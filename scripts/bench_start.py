#!/usr/bin/env python3
"""Benchmark: how long kelly-jack takes to start, with an empty and with a filled Numba cache.

Two starts are timed, each as a fresh ``python -m kelly_jack`` process, wall
seconds from ``Popen`` until:

* **live**: kelly's start line on stdout, which it prints once its JACK client
  is active: its first period is processed at most one period (2.7 ms at 128
  frames, 48 kHz) later. kelly is then stopped with SIGINT and its summary must
  count at least one period (otherwise the run is reported as failed). It runs
  on a private ``jackd`` (dummy driver, 48 kHz, 128 frames) under a name of its
  own, stopped by PID;
* **render**: ``kelly-jack render`` of a 0.5 s clip (its first hops) until the
  process exits.

Each with the kernel cache:

* **cold**: ``NUMBA_CACHE_DIR`` pointed at a new empty folder, as on a
  first start after install: every kernel the config needs is compiled;
* **warm**: the same folder again, filled by the cold run.

Peak RSS is the child's ``ru_maxrss`` (``os.wait4``), in MB (10^6 bytes).

    .venv/bin/python scripts/bench_start.py [--config config/studio.yaml] [--runs 3] [--which live,render]

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


def reap(proc: subprocess.Popen, timeout: float = 120.0) -> tuple[int, float]:
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


def time_live(config: str, server: str, env: dict) -> tuple[float, float]:
    """(seconds to the start line, peak RSS MB) of one kelly-jack start on ``server``."""
    cmd = [sys.executable, "-m", "kelly_jack", "--config", config, "--server", server, "--name", "bench"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    seconds = time.perf_counter() - t0
    if not line.startswith("kelly-jack: client"):
        stop(proc)
        raise RuntimeError(f"kelly-jack did not start: {line}{proc.stderr.read()}")
    time.sleep(0.1)  # some periods
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.stderr.read()
    code, rss = reap(proc)
    periods = int(out.split("summary: ", 1)[1].split(" periods", 1)[0]) if "summary: " in out else 0
    if code != 0 or periods < 1:
        raise RuntimeError(f"kelly-jack exit {code}, {periods} periods processed: {out}")
    return seconds, rss


def time_render(config: str, clip: Path, env: dict) -> tuple[float, float]:
    """(seconds until ``kelly-jack render`` of ``clip`` exits, peak RSS MB)."""
    out = clip.with_suffix(".mid")
    cmd = [sys.executable, "-m", "kelly_jack", "render", str(clip), "-o", str(out), "--config", config]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    code, rss = reap(proc)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    if code != 0 or not out.exists():
        raise RuntimeError(f"kelly-jack render exit {code}: {err}")
    return seconds, rss


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "config" / "studio.yaml"))
    p.add_argument("--runs", type=int, default=1, help="cold/warm pairs per kind (default 1)")
    p.add_argument("--which", default="live,render", help="live, render or both (default)")
    args = p.parse_args()
    kinds = args.which.split(",")
    rows: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kelly-bench-start-") as tmp:
        clip = Path(tmp) / "clip.wav"
        t = np.arange(24000) / 48000.0
        soundfile.write(clip, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
        server = f"kelly-bench-start-{os.getpid()}"
        jackd = start_jackd(server) if "live" in kinds else None
        try:
            for run in range(args.runs):
                for kind in kinds:
                    cache = Path(tmp) / f"cache-{kind}-{run}"
                    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
                    env.pop("JACK_DEFAULT_SERVER", None)
                    for phase in ("cold", "warm"):
                        if kind == "live":
                            s, rss = time_live(args.config, server, env)
                        else:
                            s, rss = time_render(args.config, clip, env)
                        rows.setdefault(f"{kind} {phase}", []).append((s, rss))
                        print(f"{kind:6} {phase}: {s:6.2f} s, peak RSS {rss:5.0f} MB", flush=True)
        finally:
            if jackd is not None:
                stop(jackd)
    if args.runs > 1:
        print("\nmin / median / max:")
        for key, vals in rows.items():
            s = sorted(v[0] for v in vals)
            r = sorted(v[1] for v in vals)
            print(
                f"{key:12} {s[0]:6.2f} / {statistics.median(s):6.2f} / {s[-1]:6.2f} s;  "
                f"peak RSS {r[0]:4.0f} / {statistics.median(r):4.0f} / {r[-1]:4.0f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
