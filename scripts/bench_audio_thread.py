#!/usr/bin/env python3
"""Benchmark: kelly's audio-thread time and xruns, native cfunc vs Python callback.

For each period size and audio_thread mode it starts a private jackd (dummy
driver, 48 kHz), the demo source, and ``kelly-jack`` with a slow stub backend
(inference takes 5 hops), runs for ``--seconds``, and prints kelly's callback
time p50/p99.9/max and xruns. Xruns are split the way jackd reports them:
those where kelly's callback "was not finished" (kelly's fault) and all the
others. Each server first runs ``--seconds`` with only the demo source, as a
reference for the xruns this machine makes without kelly.

    .venv/bin/python scripts/bench_audio_thread.py [--seconds 20] [--periods 64 128]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
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


def run(period: int, mode: str, seconds: float, tmp: Path) -> dict:
    server = f"kelly-bench-{os.getpid()}-{period}-{mode}"
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
        ref_mine, ref_other = count_xruns(log, "kelly")
        cfg = tmp / f"{mode}.yaml"
        cfg.write_text(
            f"client: {{name: kelly, server: {server}, audio_thread: {mode}}}\n"
            f"backend: {{name: slow, delay_ms: {5 * 1000 * 1024 / 48000:.2f}}}\n"
        )
        out = subprocess.run(
            [sys.executable, "-m", "kelly_jack", "--config", str(cfg), "--duration", str(seconds)],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=seconds + 120,
        ).stdout
    finally:
        stop(source)
        stop(jackd)
    mine, other = count_xruns(log, "kelly")
    summary = out[out.index("kelly-jack summary:") :]
    pick = lambda pattern: float(re.search(pattern, summary).group(1))  # noqa: E731
    return {
        "period": period,
        "mode": mode,
        "periods": int(pick(r"(\d+) periods")),
        "p50": pick(r"p50 (\d+) us"),
        "p999": pick(r"p99\.9 (\d+) us"),
        "max": pick(r"max (\d+) us"),
        "xruns_seen": int(pick(r"(\d+) xruns")),
        "xruns_kelly": mine,
        "xruns_other": other - ref_other,
        "ref_xruns": ref_other,
        "late": int(pick(r"(\d+) late")),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--periods", type=int, nargs="+", default=[64, 128])
    p.add_argument("--modes", nargs="+", default=["native", "python"])
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for period in args.periods:
            for mode in args.modes:
                rows.append(run(period, mode, args.seconds, Path(tmp)))
                r = rows[-1]
                print(
                    f"{r['period']:>4} frames {r['mode']:>6}: {r['periods']} periods, callback p50 {r['p50']:.0f} us, "
                    f"p99.9 {r['p999']:.0f} us, max {r['max']:.0f} us; xruns: {r['xruns_kelly']} kelly not finished, "
                    f"{r['xruns_other']} driver-late (reference without kelly: {r['ref_xruns']} in the same time); "
                    f"{r['late']} late results",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
