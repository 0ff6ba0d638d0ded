"""Compiling kelly's kernels in parallel worker processes when Numba's cache is cold.

Three kernels take most of a first start (seconds each on a small machine):
the rtneural backend's ``fused.run_vector``, the feature extractor's
``extract`` and the audio thread's ``process_period`` (with the JACK
callbacks, cfuncs compiled at the import of ``jack/process.py``). They do not
call each other, so ``precompile()`` starts one worker process per missing
group (``python -c ... ROOT GROUP PARENT_PID``, importing this kelly_jack), each
compiling its group into the on-disk cache (``cache=True``) with the same
argument types the engine uses; the process that started them then loads them
from the cache. With two cores the three groups run side by side instead of
one after another.

* Only groups whose cache index is missing or stale are compiled: a warm
  start starts no process (``cold_groups``, a few ``stat`` and index reads).
* Nothing here runs on the audio thread: ``precompile`` is called from the
  main thread before the backend is built and before JACK is touched.
* A worker that fails (killed, out of memory, an exception) is reported on
  stderr with one line; its kernels then compile in this process, as without
  workers (``warm.announce_compiles`` says so, kernel by kernel).
* Workers are stopped by PID when the parent leaves ``precompile`` in any
  way, and each asks the kernel to kill it when its parent dies
  (``PR_SET_PDEATHSIG``), so none outlives the parent.
* Numba's cache writes the index and data files with atomic renames, but
  ``IndexDataCacheFile.save`` reads the index, picks the first free data file
  number and writes both without a lock: two processes saving different
  signatures of one function at once could pair one's index entry with the
  other's data file. ``lock_cache_writes()`` (called in every worker and in
  the parent) serialises those saves across processes with ``flock`` on the
  cache folder.

``KELLY_JACK_COMPILE_WORKERS=0`` turns the workers off (everything compiles in
process, as before).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pickle
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TextIO

from . import _kernel_cache, frame_stack

PACKAGE = _kernel_cache.PACKAGE
# the worker command: this very kelly_jack first on the path (a checkout, a wheel, PYTHONPATH alike)
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from kelly_jack.compile_workers import worker_main; worker_main(sys.argv[1:])"
)
EXIT_CONFIG = 2  # a worker's exit code for a config error: no line, the parent reports it as it builds the parts
TIMEOUT_S = 900.0  # a worker still compiling after this is stopped (and its group compiled in process)

# group -> the kernels whose cache index shows it compiled: (source file under the package, Numba's file name stem)
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "backend": ((os.path.join("backends", "rtneural", "fused.py"), "fused.run_vector"),),
    "features": ((os.path.join("rt", "features", "extractor.py"), "extractor.extract"),),
    "engine": (
        (os.path.join("jack", "process.py"), "process.process_period"),
        (os.path.join("jack", "process.py"), "process.process_callback"),
    ),
}


# the last precompile: workers started, the largest one's peak RSS (its VmHWM, kB), each one's CPU seconds
# (user + system); scripts/bench_start.py reads it
last_run: dict = {"workers": 0, "workers_peak_kb": 0, "workers_cpu_s": []}


def peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM: its own memory map's, unlike ru_maxrss after a vfork+exec), kB; 0 unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def enabled() -> bool:
    """Workers on, unless KELLY_JACK_COMPILE_WORKERS=0 or there is no interpreter to start (an embedded one)."""
    return os.environ.get("KELLY_JACK_COMPILE_WORKERS", "1") != "0" and bool(sys.executable)


def _cache_folder(source: str) -> str:
    """Where Numba keeps the cache of the kernels defined in ``source`` (as its locators choose it)."""
    from numba.core import caching, config

    if config.CACHE_DIR:  # NUMBA_CACHE_DIR (kelly's user cache of a read-only install included)
        return os.path.join(config.CACHE_DIR, caching._CacheLocator.get_suitable_cache_subpath(source))
    return os.path.join(os.path.dirname(source), "__pycache__")


def _source_stamps(source: str) -> list:
    """The stamps a Numba version may have written for ``source``: a hash of its bytes, or (mtime, size)."""
    import hashlib

    st = os.stat(source)
    with open(source, "rb") as f:
        return [hashlib.sha256(f.read()).digest(), (st.st_mtime, st.st_size)]


def _index_fresh(index: str, stamps: list, version: str) -> bool:
    """True if Numba would take ``index`` as a live index with at least one entry."""
    try:
        with open(index, "rb") as f:
            if pickle.load(f) != version:
                return False
            stamp, overloads = pickle.loads(f.read())
    except Exception:  # noqa: BLE001 - unreadable, truncated, foreign: not cached, as Numba would see it
        return False
    return stamp in stamps and bool(overloads)


def cached(group: str, package: str = PACKAGE) -> bool:
    """True if every marker kernel of ``group`` has a fresh, non-empty index in Numba's cache."""
    import numba

    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    try:
        for rel, stem in GROUPS[group]:
            source = os.path.join(package, rel)
            pattern = os.path.join(glob.escape(_cache_folder(source)), f"{glob.escape(stem)}-*.{tag}.nbi")
            stamps = _source_stamps(source)
            if not any(_index_fresh(p, stamps, numba.__version__) for p in glob.glob(pattern)):
                return False
    except (OSError, AttributeError):  # no source (a zipped install), another Numba layout: assume cached
        return True
    return True


def groups_for(cfg: dict, blocks: bool = False) -> list[str]:
    """The groups a start (or ``kelly-jack warm``, ``blocks``) of ``cfg`` compiles, heaviest first."""
    rtneural = cfg.get("backend", {}).get("name") == "rtneural"
    return (["backend"] if rtneural else []) + ["engine", "features"]


def cold_groups(cfg: dict, blocks: bool = False) -> list[str]:
    """The groups of ``cfg`` not in the cache yet (``blocks``: the backend's block entries are never checked)."""
    return [g for g in groups_for(cfg, blocks) if not cached(g)]


# ----------------------------------------------------------------------------- the parent side


def precompile(
    cfg: dict,
    out: TextIO | None = None,
    blocks: bool = False,
    on_kernel: Callable[[str], None] | None = None,
    groups: list[str] | None = None,
    argv: list[str] | None = None,
) -> dict[str, int]:
    """Compile the cold groups of ``cfg`` in worker processes, one per group, all at once; wait for them.

    Main thread, before the backend is built. Returns {group: worker exit code} (empty: nothing to do).
    ``out`` (default stderr) gets a line when workers start (on a terminal only, like
    ``announce_compiles``) and a line for every worker that failed (always). ``on_kernel(name)`` is called
    for each kernel a worker starts compiling (``kelly-jack warm``'s progress bar). ``argv`` replaces the
    worker command (tests). Never raises for a worker's failure: its kernels then compile in this process.
    """
    out = out or sys.stderr
    last_run.update(workers=0, workers_peak_kb=0, workers_cpu_s=[])
    todo = cold_groups(cfg, blocks) if groups is None else groups
    if not todo:
        return {}
    frame_stack.use_malloc_chunks()  # for what still compiles in this process too (see frame_stack)
    if not enabled():
        return {}
    try:
        payload = pickle.dumps((cfg, blocks))
    except Exception:  # noqa: BLE001 - a config that does not pickle: the backend compiles in process
        payload = pickle.dumps(({}, False))
        todo = [g for g in todo if g != "backend"]
    lock_cache_writes()
    tty = out.isatty()
    if tty and on_kernel is None:
        print(
            f"kelly-jack: compiling {len(todo)} kernel groups ({', '.join(todo)}) in {len(todo)} worker processes "
            "(not in Numba's cache yet: the first start after install or update; `kelly-jack warm` compiles ahead)",
            file=out,
            flush=True,
        )
    t0 = time.perf_counter()
    procs: dict[str, subprocess.Popen] = {}
    errfiles: dict = {}
    codes: dict[str, int] = {}
    sel = selectors.DefaultSelector()
    try:
        for group in todo:
            cmd = argv or [sys.executable, "-c", _WORKER, os.path.dirname(PACKAGE)]
            try:
                proc = subprocess.Popen(
                    [*cmd, group, str(os.getpid())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errfiles.setdefault(group, tempfile.TemporaryFile()),  # not a pipe: it could fill
                )
            except OSError as e:
                codes[group] = -1
                print(f"kelly-jack: could not start a compile worker for {group} ({e}); compiling it here", file=out)
                continue
            procs[group] = proc
            last_run["workers"] += 1
            try:
                proc.stdin.write(payload)
                proc.stdin.close()
            except OSError:
                pass  # it died already: its exit code says so below
            os.set_blocking(proc.stdout.fileno(), False)
            sel.register(proc.stdout, selectors.EVENT_READ, group)
        errors: dict[str, bytes] = {g: b"" for g in procs}
        pending: dict[str, bytes] = {g: b"" for g in procs}
        deadline = time.monotonic() + TIMEOUT_S
        bad_config = False
        while sel.get_map() and time.monotonic() < deadline and not bad_config:
            # a config error (the backend's model, say) ends them all: this process reports it as it builds
            bad_config = any(proc.poll() == EXIT_CONFIG for proc in procs.values())
            for key, _ in sel.select(timeout=0.5):
                group = key.data
                chunk = key.fileobj.read()
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                lines = (pending[group] + chunk).split(b"\n")
                pending[group] = lines.pop()
                for line in lines:
                    if line.startswith(b"compiling ") and on_kernel is not None:
                        on_kernel(line[10:].decode(errors="replace"))
                    elif line.startswith(b"peak-kb "):
                        peak, cpu = line.split()[1:3]
                        last_run["workers_peak_kb"] = max(last_run["workers_peak_kb"], int(peak))
                        last_run["workers_cpu_s"].append(float(cpu))
        for group, proc in procs.items():
            try:
                proc.wait(0 if bad_config else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _stop(proc)
            errfiles[group].seek(0)
            errors[group] = errfiles[group].read()
            codes[group] = proc.returncode
            if proc.returncode not in (0, EXIT_CONFIG) and not bad_config:
                why = (
                    f"killed by signal {-proc.returncode}"
                    if proc.returncode < 0
                    else f"exit code {proc.returncode}: {_last_line(errors[group])}"
                )
                print(
                    f"kelly-jack: the compile worker for {group} failed ({why}); compiling its kernels in this "
                    "process instead",
                    file=out,
                    flush=True,
                )
    finally:
        sel.close()
        for proc in procs.values():
            _stop(proc)
            for f in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    f.close()
        for f in errfiles.values():
            f.close()
    if tty and on_kernel is None:
        ok = sum(1 for c in codes.values() if c == 0)
        print(f"kelly-jack: {ok} of {len(todo)} kernel groups compiled in {time.perf_counter() - t0:.1f} s", file=out)
    return codes


def _last_line(err: bytes) -> str:
    lines = [s for s in err.decode(errors="replace").splitlines() if s.strip()]
    return lines[-1].strip() if lines else "no message"


def _stop(proc: subprocess.Popen) -> None:
    """Stop one worker by its PID (SIGTERM, then SIGKILL) and reap it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- cache writes across processes

_locked = False


def lock_cache_writes() -> None:
    """Make Numba's cache saves in this process exclusive across processes (``flock`` on the cache folder).

    Numba's ``IndexDataCacheFile.save`` reloads the index, picks a data file name and writes both; under the
    lock, a concurrent save of another signature of the same function sees the first one's entry. Idempotent;
    does nothing if Numba's internals are not as expected (then saves run as Numba does them).
    """
    global _locked
    if _locked:
        return
    try:
        import fcntl

        from numba.core import caching

        original = caching.IndexDataCacheFile.save
    except (ImportError, AttributeError):
        return

    def save(self, key, data):
        try:
            fd = os.open(self._cache_path, os.O_RDONLY)
        except OSError:
            return original(self, key, data)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return original(self, key, data)
        finally:
            os.close(fd)  # releases the lock

    caching.IndexDataCacheFile.save = save
    _locked = True


# ----------------------------------------------------------------------------- the worker side


def compile_group(group: str, cfg: dict, blocks: bool = False) -> None:
    """Compile (or load) one group's kernels with the argument types the live client and render use."""
    import numpy as np

    if group == "backend":
        from .engine.parts import build_engine_parts

        backend, _ = build_engine_parts(cfg)  # the rtneural backend's load compiles run_vector (its warm_up)
        model = getattr(backend, "model", None)
        if blocks and hasattr(model, "warm_up"):
            model.warm_up(blocks=True)
    elif group == "features":
        from .rt.features import FEATURE_SIZE, FeatureExtractor, mix_to_mono

        window = 2048
        ex = FeatureExtractor(48000, window, 1024)  # the kernel's types do not depend on the sizes
        buf = np.zeros(window, np.float32)
        mix_to_mono(np.zeros((2, 4 * window), np.float32), 0, window, 0, buf)
        ex.compute(buf, np.zeros(FEATURE_SIZE, np.float32))
    elif group == "engine":
        from .jack import process  # the JACK callbacks are cfuncs: they compile (process_period in them) here
        from .rt import midi_events, ring, shared_state
        from .rt.emotion import grid_centroid, learned_mapping

        process.process_period.compile("int64(int64, int64[::1])")  # as jack/client.py and the renderer call it
        grid_centroid(np.zeros(64), np.zeros(3))  # the inference thread's warm-up and hops
        learned_mapping(np.zeros(64), np.zeros((3, 64)), np.zeros(3))
        hdr = ring.new_header(2)
        ring.consumer_write_position(hdr)
        ring.consumer_release_to(hdr, 0)
        ring.record_push(hdr, np.zeros((2, shared_state.RECORD_WIDTH)), np.zeros(shared_state.RECORD_WIDTH))
        events = ring.new_header(2)
        data = np.zeros((2, midi_events.EVENT_WIDTH), np.int64)  # the generators' scheduler
        packed = int(midi_events.pack(0x90, 60, 100, 3))
        midi_events.push_event(events, data, 0, packed, np.zeros(midi_events.EVENT_WIDTH, np.int64))
    else:
        raise ValueError(f"unknown kernel group {group!r}")


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the thread that started it exits; leave if it is gone already."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def worker_main(argv: list[str]) -> int:
    """A worker: ``argv`` is GROUP PARENT_PID, the pickled (cfg, blocks) on stdin; prints "compiling NAME" lines."""
    group, parent = argv[0], int(argv[1])
    _die_with_parent(parent)
    frame_stack.use_malloc_chunks()
    cfg, blocks = pickle.loads(sys.stdin.buffer.read())
    lock_cache_writes()
    from numba.core import event as numba_event

    from .warm import CompileAnnouncer

    def on_kernel(name: str) -> None:
        print(f"compiling {name}", flush=True)

    listener = CompileAnnouncer(on_kernel=on_kernel)
    numba_event.register("numba:compile", listener)
    from .config import ConfigError

    try:
        compile_group(group, cfg, blocks)
    except ConfigError:  # the parent reports it in one line when it builds the same backend
        os._exit(EXIT_CONFIG)
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak-kb {peak_rss_kb()} {me.ru_utime + me.ru_stime:.3f}", flush=True)
    os._exit(0)  # skip the interpreter's teardown of LLVM (a good part of a second)
