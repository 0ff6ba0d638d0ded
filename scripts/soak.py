#!/usr/bin/env python3
"""Soak benchmark: kelly-jack for N minutes on a private jackd, with music in and a CPU hog beside it.

    scripts/soak [--minutes 10] [--period 64] [--rate 48000] [--no-hog] [--no-pin] [--warmup 15] [--realtime]

It starts, each stopped by its PID on exit, on Ctrl-C and on SIGTERM:

* a private ``jackd --no-realtime -d dummy`` under a unique server name (its
  output goes to a log that is read for xrun reports); with ``--realtime``,
  ``jackd -R -P 70``: the server's and its clients' process threads run
  SCHED_FIFO (needs root or an rtprio limit, as a real studio setup has);
* ``kelly-jack --config config/studio.yaml`` (the shipped model, the harmony
  generator) as a child process under its own ``--server``/``--name``;
* in this process, a measuring client whose process and xrun callbacks are
  Numba cfuncs (no GIL, like kelly's own): it plays the demo music
  (``kelly_jack.demo.render``) into kelly's inputs and reads kelly's audio
  outputs (frames, non-finite samples, peak) and ``midi_out`` (events, CCs,
  notes), and counts the server's xruns;
* a CPU hog (a busy-loop process) pinned to core 1, while jackd, kelly and the
  measuring client are pinned to core 0 (``os.sched_setaffinity``; no pinning
  on a one-core machine). ``--no-hog`` leaves the hog out, ``--no-pin`` leaves
  the audio processes free to run on any core.

After ``--warmup`` seconds it reads kelly's RSS (``/proc/PID/status`` VmRSS)
as the start value, then every ``--sample`` seconds. At the end it stops kelly
with SIGINT, parses its summary and prints: periods, xruns (kelly's, the
measuring client's, and jackd's own reports: "client = kelly was not finished"
and late driver wake-ups), kelly's audio-thread time p50/p99.9/max, late
results, ring overflows, RSS at start and end with the series' min and max,
and whether the goals are met: 0 xruns in 10 minutes, RSS growth <= 1 MB after
warm-up. Exit code 0 when both goals are met, 1 when not, 2 when a process
could not be started.
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
import numba
import numpy as np
from numba import types

from kelly_jack.demo import render
from kelly_jack.jack.libjack import jack_midi_event_get, jack_midi_get_event_count, jack_port_get_buffer
from kelly_jack.rt.atomics import address_as_voidptr, view_u8, voidptr_as_address

ROOT = Path(__file__).resolve().parent.parent
KELLY = "kelly-soak"
RSS_GOAL_KB = 1024

# the measuring client's int64 state table
(OUT, IN1, IN2, MIDI, LOOP, LOOP_LEN, POS, PERIODS, XRUNS, FRAMES_IN, NONFINITE, MIDI_EVENTS, CCS, NOTES, PEAK) = range(
    15
)
EVENT = 16  # 16..18: a jack_midi_event_t (time, size, buffer)
SIZE = 32


@numba.njit(nogil=True)
def _read(st, slot, nframes):
    """Count frames and non-finite samples of one input; keep the peak."""
    x = numba.carray(jack_port_get_buffer(address_as_voidptr(st[slot]), nframes), (nframes,), np.float32)
    peak = numba.carray(address_as_voidptr(st[PEAK]), (1,), np.float64)
    for i in range(nframes):
        v = x[i]
        if not np.isfinite(v):
            st[NONFINITE] += 1
        elif abs(v) > peak[0]:
            peak[0] = abs(v)
    st[FRAMES_IN] += nframes


@numba.cfunc(types.int32(types.uint32, types.voidptr), nopython=True)
def _process(nframes, arg):
    st = numba.carray(arg, (SIZE,), np.int64)
    loop = numba.carray(address_as_voidptr(st[LOOP]), (st[LOOP_LEN],), np.float32)
    out = numba.carray(jack_port_get_buffer(address_as_voidptr(st[OUT]), nframes), (nframes,), np.float32)
    pos = st[POS]
    n = st[LOOP_LEN]
    for i in range(nframes):
        out[i] = loop[pos]
        pos += 1
        if pos == n:
            pos = 0
    st[POS] = pos
    _read(st, IN1, nframes)
    _read(st, IN2, nframes)
    buf = jack_port_get_buffer(address_as_voidptr(st[MIDI]), nframes)
    event = address_as_voidptr(voidptr_as_address(arg) + EVENT * 8)
    for j in range(jack_midi_get_event_count(buf)):
        if jack_midi_event_get(event, buf, j) == 0:
            st[MIDI_EVENTS] += 1
            if st[EVENT + 1] >= 3:
                msg = view_u8(st[EVENT + 2], 3)
                kind = msg[0] & 0xF0
                if kind == 0xB0:
                    st[CCS] += 1
                elif kind == 0x90 and msg[2] > 0:
                    st[NOTES] += 1
    st[PERIODS] += 1
    return 0


@numba.cfunc(types.int32(types.voidptr), nopython=True)
def _xrun(arg):
    st = numba.carray(arg, (SIZE,), np.int64)
    st[XRUNS] += 1
    return 0


class Meter:
    """The measuring client: music out, kelly's audio and MIDI in, server xruns counted."""

    def __init__(self, server: str, name: str = "soak-meter"):
        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.out = self.client.outports.register("music")
        self.in1 = self.client.inports.register("in_1")
        self.in2 = self.client.inports.register("in_2")
        self.midi = self.client.midi_inports.register("midi")
        self.loop = render(self.client.samplerate, 5.0)  # kept alive: the callback reads it by address
        self.st = np.zeros(SIZE, dtype=np.int64)
        for slot, port in ((OUT, self.out), (IN1, self.in1), (IN2, self.in2), (MIDI, self.midi)):
            self.st[slot] = int(jack._ffi.cast("uintptr_t", port._ptr))
        self.st[LOOP] = self.loop.ctypes.data
        self.st[LOOP_LEN] = len(self.loop)
        self.peak = np.zeros(1)  # the largest |sample| read from kelly's outputs
        self.st[PEAK] = self.peak.ctypes.data
        lib, ffi = jack._lib, jack._ffi
        arg = ffi.cast("void *", self.st.ctypes.data)
        if lib.jack_set_process_callback(self.client._ptr, ffi.cast("JackProcessCallback", _process.address), arg):
            raise RuntimeError("jack_set_process_callback failed")
        if lib.jack_set_xrun_callback(self.client._ptr, ffi.cast("JackXRunCallback", _xrun.address), arg):
            raise RuntimeError("jack_set_xrun_callback failed")
        self.client.activate()

    def patch(self, kelly: str) -> None:
        """music -> kelly's inputs; kelly's outputs and midi_out -> ours."""
        c = self.client
        c.connect(self.out, f"{kelly}:in_1")
        c.connect(self.out, f"{kelly}:in_2")
        c.connect(f"{kelly}:out_1", self.in1)
        c.connect(f"{kelly}:out_2", self.in2)
        c.connect(f"{kelly}:midi_out", self.midi)

    def figures(self) -> dict[str, float]:
        st = self.st.copy()
        return {
            "periods": int(st[PERIODS]),
            "xruns": int(st[XRUNS]),
            "frames_in": int(st[FRAMES_IN]),
            "nonfinite": int(st[NONFINITE]),
            "peak": float(self.peak[0]),
            "midi_events": int(st[MIDI_EVENTS]),
            "ccs": int(st[CCS]),
            "notes": int(st[NOTES]),
        }

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def rss_kb(pid: int) -> int | None:
    """VmRSS of ``pid`` in kB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def pin(cpus: set[int]):
    """A preexec_fn that pins the child (and every thread it will start) to ``cpus``."""
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


class Processes:
    """Children started by this script, stopped by PID in reverse order."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen, int]] = []
        self.meter: Meter | None = None  # closed before the server is stopped

    def close_meter(self) -> None:
        if self.meter is not None:
            meter, self.meter = self.meter, None
            meter.close()

    def start(self, what: str, cmd: list[str], stop_signal: int = signal.SIGTERM, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)  # Ctrl-C on the terminal reaches us only
        self.procs.append((what, proc, stop_signal))
        return proc

    def stop(self, proc: subprocess.Popen, sig: int, timeout: float = 15.0) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        self.close_meter()
        for _what, proc, sig in reversed(self.procs):
            self.stop(proc, sig)


def wait_for_server(name: str, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}")
        try:
            jack.Client("soak-probe", no_start_server=True, servername=name).close()
            return
        except jack.JackOpenError:
            time.sleep(0.1)
    raise RuntimeError(f"jackd {name} did not come up in {timeout} s")


def wait_for_line(path: Path, prefix: str, proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"kelly-jack did not start (exit {proc.poll()})")


SUMMARY = {
    "periods": r"summary: (\d+) periods",
    "xruns": r"Hz, (\d+) xruns",
    "p50": r"p50 (\d+) us",
    "p999": r"p99\.9 (\d+) us",
    "max": r"max (\d+) us; latency",
    "applied": r"results (\d+) applied",
    "late": r"applied, (\d+) late",
    "backend_errors": r"\((\d+) backend errors",
    "nonfinite": r"(\d+) non-finite",
    "ring_overflows": r"(\d+) ring overflows",
    "skipped": r"(\d+) hops skipped",
    "midi_sent": r"MIDI (\d+) sent",
    "events_sent": r"generator events (\d+) sent",
    "events_late": r"sent, (\d+) late; audio",
    "audio_overflow": r"audio ring overflow (\d+) frames",
}


def parse_summary(text: str) -> dict[str, int] | None:
    line = next((ln for ln in text.splitlines() if ln.startswith("kelly-jack summary:")), None)
    if line is None:
        return None
    out = {}
    for key, pattern in SUMMARY.items():
        m = re.search(pattern, line)
        out[key] = int(m.group(1)) if m else -1
    return out


def jackd_xruns(log: Path, client: str) -> tuple[int, int, int]:
    """(client not finished, other clients not finished, late driver wake-ups) from jackd's output."""
    text = log.read_text(errors="replace")
    mine = len(re.findall(rf"XRun: client = {re.escape(client)} was not finished", text))
    others = len(re.findall(r"XRun: client = .* was not finished", text)) - mine
    driver = len(re.findall(r"JackTimedDriver::Process XRun", text))
    return mine, others, driver


def soak(args: argparse.Namespace, procs: Processes, tmp: Path) -> int:
    multi = len(os.sched_getaffinity(0)) >= 2 and 1 in os.sched_getaffinity(0) and 0 in os.sched_getaffinity(0)
    audio_cpus, hog_cpus = ({0}, {1}) if multi else (set(), set())
    if args.no_pin:
        audio_cpus = set()
    server = f"kelly-soak-{os.getpid()}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_DEFAULT_SERVER": server}
    jack_log = tmp / "jackd.log"
    mode = ["-R", "-P", "70"] if args.realtime else ["--no-realtime"]
    cmd = ["jackd", "-n", server, *mode, "-d", "dummy", "-r", str(args.rate), "-p", str(args.period)]
    jackd = procs.start(
        "jackd", cmd, env=env, stdout=jack_log.open("w"), stderr=subprocess.STDOUT, preexec_fn=pin(audio_cpus)
    )
    wait_for_server(server, jackd)
    if not args.no_hog:
        hog = procs.start(
            "hog", [sys.executable, "-c", "while True: pass"], stop_signal=signal.SIGKILL, preexec_fn=pin(hog_cpus)
        )
    kelly_out, kelly_err = tmp / "kelly.out", tmp / "kelly.err"
    kelly = procs.start(
        "kelly",
        [str(ROOT / ".venv/bin/kelly-jack"), "--config", str(ROOT / "config/studio.yaml")]
        + ["--server", server, "--name", KELLY],
        stop_signal=signal.SIGINT,
        env=env,
        cwd=ROOT,
        stdout=kelly_out.open("w"),
        stderr=kelly_err.open("w"),
        preexec_fn=pin(audio_cpus),
    )
    start_line = wait_for_line(kelly_out, "kelly-jack: client", kelly, 120.0)
    if audio_cpus:
        os.sched_setaffinity(0, audio_cpus)  # this process (the measuring client) too
    meter = Meter(server)
    meter.patch(KELLY)
    print(f"soak: {start_line.removeprefix('kelly-jack: ')}", flush=True)
    print(
        f"soak: jackd {server} (dummy, {args.rate} Hz, {args.period} frames, "
        f"{'realtime SCHED_FIFO 70' if args.realtime else 'not realtime'}); "
        + (
            f"{'jackd, kelly and the meter on core 0' if audio_cpus else 'audio processes not pinned'}, "
            f"CPU hog on core 1 (pid {hog.pid})"
            if multi and not args.no_hog
            else ("no CPU hog" if args.no_hog else "one core: no pinning")
        )
        + f"; {args.minutes:g} min after {args.warmup:g} s warm-up",
        flush=True,
    )
    procs.meter = meter
    time.sleep(args.warmup)
    rss = [(0.0, rss_kb(kelly.pid))]
    before = meter.figures()
    t0 = time.monotonic()
    end = t0 + args.minutes * 60.0
    next_print = t0 + 60.0
    try:
        while (now := time.monotonic()) < end and kelly.poll() is None:
            time.sleep(min(args.sample, max(0.0, end - now)))
            value = rss_kb(kelly.pid)
            if value is not None:
                rss.append((time.monotonic() - t0, value))
            if time.monotonic() >= next_print:
                f = meter.figures()
                print(
                    f"soak: {(time.monotonic() - t0) / 60:.0f} min: RSS {value} kB, server xruns {f['xruns']}, "
                    f"MIDI from kelly {f['midi_events']}",
                    flush=True,
                )
                next_print += 60.0
    except KeyboardInterrupt:  # Ctrl-C ends the measurement early: report what was measured
        print("\nsoak: interrupted; reporting what was measured", file=sys.stderr)
    elapsed = time.monotonic() - t0
    crashed = kelly.poll()
    after = meter.figures()
    procs.stop(kelly, signal.SIGINT, 30.0)
    procs.close_meter()
    summary = parse_summary(kelly_out.read_text(errors="replace"))
    mine, others, late_wakeups = jackd_xruns(jack_log, KELLY)
    return report(args, summary, before, after, rss, elapsed, crashed, kelly, kelly_err, (mine, others, late_wakeups))


def report(args, s, before, after, rss, elapsed, crashed, kelly, kelly_err, jackd) -> int:
    print(f"soak: {elapsed / 60:.2f} min measured")
    if crashed is not None or s is None:
        print(f"soak: kelly-jack exited early or printed no summary (exit {kelly.returncode})")
        print(kelly_err.read_text(errors="replace")[-2000:], file=sys.stderr)
        return 1
    mine, others, late_wakeups = jackd
    during = after["xruns"] - before["xruns"]
    print(f"  periods           {s['periods']} (kelly's callback), meter {after['periods']}")
    print(
        f"  xruns             kelly {s['xruns']} (its xrun callback, whole run incl. warm-up); "
        f"server {after['xruns']} (the meter's xrun callback; {during} after warm-up)"
    )
    print(
        f"  jackd reports     {mine} with kelly not finished, {others} with another client not finished, "
        f"{late_wakeups} late driver wake-ups"
    )
    print(f"  audio thread      p50 {s['p50']} us, p99.9 {s['p999']} us, max {s['max']} us")
    print(
        f"  results           {s['applied']} applied, {s['late']} late, {s['skipped']} hops skipped; "
        f"{s['backend_errors']} backend errors, {s['nonfinite']} non-finite"
    )
    print(
        f"  ring overflows    result ring {s['ring_overflows']}, audio ring {s['audio_overflow']} frames; "
        f"generator events {s['events_sent']} sent, {s['events_late']} late"
    )
    print(
        f"  kelly's outputs   {after['frames_in']} frames read ({after['nonfinite']} non-finite, peak "
        f"{after['peak']:.3f}); midi_out {after['midi_events']} events ({after['ccs']} CCs, {after['notes']} notes)"
    )
    values = [v for _, v in rss if v is not None]
    start, last = values[0], values[-1]
    print(
        f"  RSS               start {start} kB (after {args.warmup:g} s warm-up), end {last} kB, "
        f"min {min(values)} kB, max {max(values)} kB over {len(values)} samples; growth {last - start:+d} kB"
    )
    xrun_ok = s["xruns"] == 0
    rss_ok = max(values) - start <= RSS_GOAL_KB
    scope = "" if elapsed >= 600 else f" (this run: {elapsed / 60:.1f} min, the goal is for 10)"
    print(f"  goal: 0 xruns in 10 min{scope}: {'met' if xrun_ok else 'NOT met'} ({s['xruns']} xruns)")
    print(
        f"  goal: RSS growth <= 1 MB after warm-up: {'met' if rss_ok else 'NOT met'} "
        f"(max {max(values) - start:+d} kB over the start)"
    )
    return 0 if xrun_ok and rss_ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="measured time after warm-up (default 10)")
    p.add_argument("--period", type=int, default=64, help="frames per period (default 64)")
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--no-hog", action="store_true", help="no CPU hog on the other core")
    p.add_argument("--no-pin", action="store_true", help="leave jackd, kelly and the meter unpinned")
    p.add_argument("--realtime", action="store_true", help="jackd -R -P 70: SCHED_FIFO process threads")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds before RSS start is read (default 15)")
    p.add_argument("--sample", type=float, default=3.0, help="seconds between RSS samples (default 3)")
    args = p.parse_args()
    if args.minutes <= 0 or args.period < 16 or args.rate < 8000 or args.warmup < 0 or args.sample <= 0:
        p.error("--minutes and --sample must be positive, --period >= 16, --rate >= 8000, --warmup >= 0")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    jack.set_error_function(lambda _msg: None)  # libjack's own chatter (e.g. while the server comes up)
    jack.set_info_function(lambda _msg: None)
    procs = Processes()
    with tempfile.TemporaryDirectory(prefix="kelly-soak-") as tmp:
        try:
            return soak(args, procs, Path(tmp))
        except KeyboardInterrupt:
            print("\nsoak: interrupted; stopping everything it started", file=sys.stderr)
            return 130
        except (RuntimeError, jack.JackError) as e:
            print(f"soak: {e}", file=sys.stderr)
            return 2
        finally:
            procs.stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
