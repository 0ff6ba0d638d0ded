#!/usr/bin/env python3
"""Benchmark: kelly's audio-thread time and xruns, native cfunc vs Python callback.

For each period size, audio_thread mode and GIL load it starts a private jackd
(dummy driver, 48 kHz), the demo source, and a kelly session (in a child
process) with a slow stub backend (inference takes 5 hops); with ``gil-hog``
another thread of kelly's process runs plain Python the whole time, as an OSC
or monitor thread would. It prints the callback's own time p50/p99.9/max (in
python mode this starts once the GIL is held, so waiting for it shows only in
the xruns) and xruns as jackd reports them: those where kelly "was not
finished" (kelly's fault) and late driver wake-ups. Each server first
runs ``--seconds`` with only the demo source: the late wake-ups this machine
makes without kelly, as a reference.

    .venv/bin/python scripts/bench_audio_thread.py [--seconds 20] [--periods 64 128]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jack

ROOT = Path(__file__).resolve().parent.parent


def start_jackd(name: str, period: int, log: Path) -> subprocess.Popen:
    cmd = ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", str(period)]
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(100):
        try:
            jack.Client("bench-probe", no_start_server=True, servername=name).close()
            return proc
        except jack.JackOpenError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"jackd {name} did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_xruns(log: Path, client: str) -> tuple[int, int]:
    """(xruns where ``client`` was not finished, all other xrun reports) from jackd's log."""
    text = log.read_text(errors="replace")
    mine = len(re.findall(rf"XRun: client = {re.escape(client)} was not finished", text))
    driver = len(re.findall(r"JackTimedDriver::Process XRun", text))
    return mine, driver


def child(server: str, mode: str, seconds: float, hog: bool) -> None:
    """Run one kelly session in this process and print its figures as JSON."""
    from kelly_jack.backends import create_backend
    from kelly_jack.config import parse_config
    from kelly_jack.engine.live import Session

    cfg = parse_config(f"client: {{name: kelly, server: {server}, audio_thread: {mode}}}\n")
    session = Session(cfg, create_backend("slow", {"delay_ms": 5 * 1000 * 1024 / 48000}))
    session.start()
    stop_hog = threading.Event()

    def gil_hog():
        while not stop_hog.is_set():
            sum(i * i for i in range(2000))  # plain Python: holds the GIL

    hog_thread = threading.Thread(target=gil_hog)
    if hog:
        hog_thread.start()
    time.sleep(seconds)
    figures = session.figures()
    stop_hog.set()
    if hog:
        hog_thread.join()  # before deactivate: see KellyJackClient.close
    session.stop()
    print(json.dumps(figures))


def run(period: int, mode: str, hog: bool, seconds: float, tmp: Path) -> dict:
    server = f"kelly-bench-{os.getpid()}-{period}-{mode}-{int(hog)}"
    log = tmp / f"{server}.log"
    jackd = start_jackd(server, period, log)
    env = {**os.environ, "JACK_DEFAULT_SERVER": server}
    source = subprocess.Popen(
        [sys.executable, "-m", "kelly_jack.demo", "--connect", "^kelly:in_"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(seconds)  # reference: the machine and the demo source alone
        _, ref_late = count_xruns(log, "kelly")
        args = ["--child", server, mode, str(seconds), "1" if hog else "0"]
        out = subprocess.run(
            [sys.executable, __file__, *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=seconds + 120
        )
    finally:
        stop(source)
        stop(jackd)
    if out.returncode != 0:
        raise SystemExit(f"kelly session failed: {out.stderr[-2000:]}")
    mine, late = count_xruns(log, "kelly")
    f = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "period": period,
        "mode": mode,
        "hog": hog,
        "kelly_xruns": mine,
        "late_wakeups": late - ref_late,
        "ref_late_wakeups": ref_late,
        **f,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--periods", type=int, nargs="+", default=[64, 128])
    p.add_argument("--modes", nargs="+", default=["native", "python"])
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        server, mode, seconds, hog = args.child
        child(server, mode, float(seconds), hog == "1")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for period in args.periods:
            for mode in args.modes:
                for hog in (False, True):
                    r = run(period, mode, hog, args.seconds, Path(tmp))
                    rows.append(r)
                    print(
                        f"{period:>4} frames {mode:>6} {'gil-hog' if hog else 'idle':>7}: {r['periods']} periods; "
                        f"callback p50 {r['time_p50_us']:.0f} us, p99.9 {r['time_p999_us']:.0f} us, "
                        f"max {r['time_max_us']} us; xruns: {r['kelly_xruns']} kelly not "
                        f"finished, {r['late_wakeups']} late driver wake-ups (reference without kelly: "
                        f"{r['ref_late_wakeups']}); results {r['applied']} on time, {r['late']} late",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
