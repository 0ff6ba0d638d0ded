"""Compiling kelly's Numba kernels ahead (``kelly-jack warm``) and saying so when a start must compile.

Numba compiles a kernel on its first use and caches it on disk (the package's
``__pycache__`` folders, or ``NUMBA_CACHE_DIR``: see ``kelly_jack/__init__``);
an empty cache (a fresh install, an update of a kernel's source) makes the
next start compile every kernel the config needs, about 12 s on a 2-core
machine. pip cannot run code at install time, so:

* ``kelly-jack warm [--config FILE]`` compiles them ahead, with a progress bar:
  what a render and the live client run (the backend's kernels, the feature
  extractor, the audio thread's callback), and the backend's block entries
  (evaluation, ``model run``). ``scripts/setup`` runs it. Exit code 0, 2 for a
  bad config.
* ``announce_compiles()`` makes any start that compiles say so on stderr (a
  terminal), one line per kernel, instead of going silent; nothing is printed
  when every kernel comes from the cache (Numba reports a compile only on a
  cache miss) or when stderr is not a terminal (one-line errors stay one line).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import numpy as np
from numba.core import event as numba_event

HINT = "not in Numba's cache yet: the first start after install or update; `kelly-jack warm` compiles ahead"


class CompileAnnouncer(numba_event.Listener):
    """A Numba event listener: one stderr line per top-level kelly kernel compiled (not per nested callee).

    ``count`` kelly kernels compiled so far; ``seconds`` spent compiling top-level functions (kelly's and
    Numba's helpers). ``on_kernel(name)``, if given, is called instead of printing (``kelly-jack warm``).
    """

    def __init__(self, out: TextIO | None = None, on_kernel=None):
        self.out = out
        self.on_kernel = on_kernel
        self.depth = 0
        self.count = 0
        self.seconds = 0.0
        self._t0 = 0.0

    def on_start(self, event) -> None:
        self.depth += 1
        if self.depth > 1:
            return
        self._t0 = time.perf_counter()
        func = getattr(event.data.get("dispatcher"), "py_func", None)
        module = getattr(func, "__module__", "") or ""
        if not module.startswith("kelly_jack."):  # Numba's own helpers (carray's impl, ...): seconds below 0.1
            return
        name = f"{module.removeprefix('kelly_jack.')}.{func.__qualname__}"
        self.count += 1
        if self.on_kernel is not None:
            self.on_kernel(name)
        elif self.out is not None:
            first = f" ({HINT})" if self.count == 1 else ""
            print(f"kelly-jack: compiling kernel {self.count}: {name}{first}", file=self.out, flush=True)

    def on_end(self, event) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self._t0


def announce_compiles(out: TextIO | None = None) -> CompileAnnouncer | None:
    """Print a line on ``out`` (stderr) for each kernel this process compiles from now on; returns the listener.

    Only when ``out`` is a terminal (None otherwise): someone is waiting in front of it, while a script or a
    service reading stderr keeps the contract that an error is one line.
    """
    out = out or sys.stderr
    if not out.isatty():
        return None
    listener = CompileAnnouncer(out)
    numba_event.register("numba:compile", listener)
    return listener


def warm(cfg: dict, out: TextIO = sys.stderr, bar: bool | None = None) -> CompileAnnouncer:
    """Compile (or load) every kernel a render and the live client of ``cfg`` run; returns the listener.

    Runs the offline render of 0.5 s of a tone through ``cfg`` (the backend, feature extractor and
    audio-thread kernels as live), imports the live client's callbacks, and the backend's blocks.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = out.isatty() if bar is None else bar
    progress = Progress(
        TextColumn("compiling"),
        BarColumn(),
        TextColumn("{task.completed} kernels  {task.description}"),
        TimeElapsedColumn(),
        disable=not bar,
        transient=False,
    )
    task = progress.add_task("", total=None)

    def on_kernel(name: str) -> None:
        progress.update(task, advance=1, description=name)
        if not bar:
            print(f"kelly-jack warm: compiling {name}", file=out, flush=True)

    listener = CompileAnnouncer(on_kernel=on_kernel)
    numba_event.register("numba:compile", listener)
    try:
        with progress:
            from . import compile_workers

            # the cold kernel groups compile side by side in worker processes (into the cache this process
            # then loads from); what they did not do (a failed worker, the small kernels) compiles below
            in_workers: list[str] = []

            def on_worker_kernel(name: str) -> None:
                in_workers.append(name)
                on_kernel(name)

            t0 = time.perf_counter()
            if compile_workers.precompile(cfg, out, blocks=True, on_kernel=on_worker_kernel):
                listener.seconds += time.perf_counter() - t0  # wall time: the workers ran side by side
            listener.count += len(in_workers)

            from .engine.parts import build_engine_parts

            backend, generators = build_engine_parts(cfg)
            from .engine import live  # noqa: F401 - the live client's callbacks (cfuncs compile at import)
            from .offline.render import render

            with tempfile.TemporaryDirectory(prefix="kelly-warm-") as tmp:
                import soundfile

                rate = cfg["analysis"]["rate"]
                t = np.arange(rate // 2) / rate
                clip = Path(tmp) / "warm.wav"
                soundfile.write(clip, (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32), rate)
                render(clip, cfg, backend, generators, Path(tmp) / "warm.mid", progress=False, notes=_Null())
            model = getattr(backend, "model", None)
            if hasattr(model, "warm_up"):
                model.warm_up(blocks=True)
            progress.update(task, total=listener.count, completed=listener.count, description="done")
    finally:
        numba_event.unregister("numba:compile", listener)
    return listener


class _Null:
    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass
