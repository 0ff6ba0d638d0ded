"""Model hot swap: SIGHUP reloads the config's model on a background thread and swaps it in between hops.

``ModelReloader.request()`` (safe from a signal handler: it only sets an
event) wakes the reloader thread, which reads the config file again, builds
the backend and its mapping exactly as at start (``engine.parts``), runs it
once on silence so nothing is compiled on the inference thread, and hands the
pair to ``InferenceThreadManager.set_inference_function``: one attribute
store, taken at the next hop. A model that fails to load is refused with one
line on stderr and the running one keeps going. Requests that arrive while a
reload runs are merged into the next one.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..backends.base import silent_input
from ..config import ConfigError, backend_options, load_config
from ..plugins import load_plugins
from .parts import build_backend


class ModelReloader:
    """Reloads ``cfg``'s model into ``inference`` on request (its own thread)."""

    def __init__(self, cfg: dict, inference, out: TextIO = sys.stderr):
        self.cfg, self.inference, self.out = cfg, inference, out
        self.reloads = 0
        self.refused = 0
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Ask for a reload (from any thread or a signal handler)."""
        self._wanted.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kelly-reload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            self.reload_once()

    def reload_once(self) -> bool:
        """Load the model the config names now and swap it in; False (and one line) if it is refused."""
        path = self.cfg.get("_source", {}).get("path", "<defaults>")
        try:
            cfg = self.cfg if path.startswith("<") else load_config(path)
            backend, mapping = build_backend(cfg, load_plugins(cfg["plugins"]["modules"]))
            backend.infer(silent_input(backend))  # compile or warm up here, not on the hop
            backend.reset()
        except ConfigError as e:
            return self._refuse(str(e))
        except Exception as e:  # a plugin's own bug must not take the client down
            return self._refuse(f"{type(e).__name__}: {e}")
        try:
            self.inference.set_inference_function(backend, mapping)
        except ValueError as e:  # an audio window longer than the ring sized at start
            return self._refuse(str(e))
        self.reloads += 1
        model = backend_options(cfg).get("model")  # the shipped model's path for `model: default`
        print(
            f"kelly-jack: reloaded backend {backend.name}" + (f" ({model})" if model else ""), file=self.out, flush=True
        )
        return True

    def _refuse(self, why: str) -> bool:
        self.refused += 1
        print(f"kelly-jack: reload refused: {why}; the running model stays", file=self.out, flush=True)
        return False
