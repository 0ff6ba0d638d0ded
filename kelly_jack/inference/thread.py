"""The inference thread (the seed's InferenceThreadManager).

Once per hop it takes the newest analysis window from the audio ring, computes
the 128 features, calls the backend, maps the 64 logits to valence/arousal and
pushes a result record stamped with the client frame of the window's last
frame. The audio thread wakes it through an eventfd; it never takes a lock the
audio side could hold.

Windows sit on a fixed grid of client frames: the last frame ``c`` of every
window has ``(c + 1) % hop == 0``, so a live run and an offline one over the
same audio analyse the same windows.

Time line: the audio ring's positions count the frames written into it; the
client's frames also include periods dropped on overflow, which the ring's
overflow counter tallies. ``_resync`` reads (write position, overflow) as a
consistent pair, so a window's ring position plus that offset is its exact
client frame.

After each result the MIDI generators run here too (``generators``, a
``midi.runner.GeneratorRunner``), and every wake-up lets it release queued
events whose time has come.

When the backend is slower than the hop, the thread skips to the newest
complete hop (counted in ``skipped``); a recurrent backend's state carries
over the skipped hops, as the extractor's does. After an overflow (a gap in
the audio) and at the start, the thread resets the extractor and the backend
(``backend.reset()``, on the plugin worker): a recurrent model starts over. A
swapped-in backend starts from the state it was given (the reload thread
resets it before the swap). Exceptions and non-finite outputs are
dropped and counted; a message goes to stderr at most every 5 s. The backend
runs on a worker with a deadline (``guard.py``): one that hangs past
``timeout_s``, or fails ``max_failures`` hops in a row, is replaced by a stub
that holds its last good output until a reload brings a new model.

A backend that hears audio (``input_kind == "audio"``, see ``audio_input.py``)
runs every ``AudioInput.every`` hops on its own window, resampled to its rate;
the hops between push its last result again, stamped with their own frame, so
the generators and the CCs keep their cadence. A backend whose
``output_kind`` is ``valence_arousal`` gives valence, arousal (and dominance)
directly: no grid, confidence 1.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from ..backends.base import AUDIO_INPUT, EMOTIONS, VALENCE_AROUSAL_OUTPUT, BackendBase, FunctionBackend
from ..engine.state import SharedState
from ..rt import ring, shared_state
from ..rt.emotion import grid_centroid, learned_mapping
from ..rt.features import FEATURE_SIZE, FeatureExtractor, mix_to_mono
from .audio_input import AudioInput
from .guard import FailureReport, FailureTracker, HoldLastBackend, PluginCaller, PluginFailure
from .resample import WindowResampler


def _logits(backend: BackendBase, x: np.ndarray) -> np.ndarray:
    """``backend.infer`` as a flat float64 array (on the plugin worker: a bad return type is the backend's failure)."""
    return np.asarray(backend.infer(x), dtype=np.float64).reshape(-1)


class InferenceThreadManager:
    """Runs the backend once per hop on its own thread.

    ``hop`` is in frames at the server rate ``rate`` (Hz); ``window`` is in
    samples at ``analysis_rate`` (None: the server rate). When the two rates
    differ, the thread reads the newest ``source_frames`` frames and resamples
    them to the window (see ``resample.py``), so the features mean the same at
    any server rate. ``channel`` is the input index analysed, or -1 to average
    all inputs. ``wake_fd`` is the eventfd the audio thread writes (or -1 to
    poll every millisecond). ``generators`` (a ``midi.runner.GeneratorRunner``
    or None) runs after each result. A backend call longer than ``timeout_s``
    seconds, or ``max_failures`` failed hops in a row, replaces the backend by
    the hold-last stub. Raises ValueError if the audio ring cannot hold the
    frames one window needs.
    """

    def __init__(
        self,
        state: SharedState,
        backend: BackendBase,
        window: int,
        hop: int,
        channel: int = -1,
        wake_fd: int = -1,
        rate: float = 48000.0,
        analysis_rate: float | None = None,
        generators=None,
        timeout_s: float = 1.0,
        max_failures: int = 20,
    ):
        self.state = state
        self.timeout_s = timeout_s
        self._caller = PluginCaller()
        self._failures = FailureTracker(max_failures)
        self._last_good: np.ndarray | None = None
        self.rate = rate
        analysis_rate = rate if analysis_rate is None else analysis_rate
        self.resampler = None if analysis_rate == rate else WindowResampler(rate, analysis_rate, window)
        # frames of server audio read per hop
        self.window = window if self.resampler is None else self.resampler.source_frames
        if self.window > state.audio.shape[1] // 2:
            raise ValueError(
                f"analysis.window {window} at {analysis_rate} Hz needs {self.window} frames at {rate} Hz; "
                f"the audio ring holds {state.audio.shape[1]}"
            )
        self.hop = hop
        # (backend, learned mapping or None, AudioInput or None), swapped whole
        self._model: tuple = (backend, None, self._audio_input(backend))
        self._audio_seen: AudioInput | None = None  # the audio plan the last hop ran with
        self._audio_from = 0  # ring position from which an audio window is whole (a gap or a swap resets it)
        self._next_audio_hop = 0  # the analysis hop (client frame // hop) an audio backend runs on next
        self._held: tuple | None = None  # an audio backend's last result (va, dominance, y), pushed between its hops
        self.channel = channel
        self.wake_fd = wake_fd
        self.generators = generators  # a midi.runner.GeneratorRunner, or None
        self.counters = np.zeros(shared_state.N_INFERENCE_COUNTERS, dtype=np.int64)  # shared_state.I_*
        self._buf = np.zeros(self.window, dtype=np.float32)
        self._analysis = self._buf if self.resampler is None else np.zeros(window, dtype=np.float32)
        self._features = np.zeros(FEATURE_SIZE, dtype=np.float32)
        self.extractor = FeatureExtractor(analysis_rate, window, hop * analysis_rate / rate)
        self._va = np.zeros(3, dtype=np.float64)
        self._vad = np.zeros(3, dtype=np.float64)
        self._record = np.zeros(shared_state.RECORD_WIDTH, dtype=np.float64)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._report = FailureReport("(dropped; counted)")
        self._offset = 0  # client frame minus ring position
        self._seen_overflow = 0
        self._next_end = window
        # a copy of the last result record pushed (None before the first), for readers on other threads
        # (OSC status, the monitor): replaced whole, so a reader never sees a half-written record
        self.last_result: np.ndarray | None = None

    # ------------------------------------------------------------ public API

    def set_inference_function(
        self, fn: Callable[[np.ndarray], np.ndarray] | BackendBase, mapping: np.ndarray | None = None
    ) -> None:
        """Swap the model: a backend object, or any callable ``features -> 64 logits``, and its
        learned 3x64 valence/arousal/dominance ``mapping`` (None: the grid centroid).

        Takes effect from the next hop: the pair is one attribute store, safe from any thread. Raises
        ValueError for an audio-input backend whose window the audio ring (sized at start) cannot hold.
        """
        backend = fn if hasattr(fn, "infer") else FunctionBackend(fn)
        matrix = None if mapping is None else np.ascontiguousarray(mapping, dtype=np.float64).reshape(3, EMOTIONS)
        self._model = (backend, matrix, self._audio_input(backend))
        self._failures.ok()

    def _audio_input(self, backend) -> AudioInput | None:
        """The window plan of an audio-input backend (None for features); ValueError if the ring cannot hold it."""
        if getattr(backend, "input_kind", "features") != AUDIO_INPUT:
            return None
        audio = AudioInput(backend, self.rate, self.hop)
        if audio.source_frames > self.state.audio.shape[1] // 2:
            raise ValueError(
                f"backend {backend.name!r} hears {audio.window} samples at {audio.rate} Hz = {audio.source_frames} "
                f"frames at {self.rate:g} Hz; the audio ring holds {self.state.audio.shape[1]} "
                "(restart kelly to load it)"
            )
        return audio

    @property
    def backend(self) -> BackendBase:
        return self._model[0]

    @property
    def mapping(self) -> np.ndarray | None:
        return self._model[1]

    @property
    def audio_input(self) -> AudioInput | None:
        """The window plan of the current backend when it hears audio, else None."""
        return self._model[2]

    def warm_up(self) -> None:
        """Compile (or load from Numba's cache) the kernels before the audio starts.

        Compiling on the first hop would hold the GIL and the CPU for seconds.
        """
        mix_to_mono(self.state.audio, 0, self.window, self.channel, self._buf)
        self._analyse()
        self.extractor.reset()
        grid_centroid(np.zeros(EMOTIONS), self._va)
        learned_mapping(np.zeros(EMOTIONS), np.zeros((3, EMOTIONS)), self._vad)
        ring.consumer_write_position(self.state.audio_hdr)
        ring.consumer_release_to(self.state.audio_hdr, 0)
        hdr = ring.new_header(2)
        ring.record_push(hdr, np.zeros((2, shared_state.RECORD_WIDTH)), self._record)

    def begin(self) -> None:
        """Take the audio ring's current position as the start (``start`` does it; the offline engine calls it)."""
        self._resync()

    @property
    def features(self) -> np.ndarray:
        """The feature vector of the last hop analysed (read it on the thread that runs the hops)."""
        return self._features

    def start(self) -> None:
        """Start the thread (after the client is activated)."""
        self._resync()
        self._thread = threading.Thread(target=self._run, name="kelly-inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to finish its current hop and join it."""
        self._stop.set()
        if self.wake_fd >= 0:
            os.eventfd_write(self.wake_fd, 1)
        if self._thread is not None:
            self._thread.join(timeout)
        self._caller.close()
        self.state.sync[shared_state.Y_NEXT_END] = 1 << 62  # a freewheeling audio thread must not wait for us now

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------- the thread

    def _run(self) -> None:
        poller = None
        if self.wake_fd >= 0:
            poller = select.poll()
            poller.register(self.wake_fd, select.POLLIN)
        while not self._stop.is_set():
            if poller is not None:
                if poller.poll(100):
                    try:
                        os.eventfd_read(self.wake_fd)
                    except BlockingIOError:
                        pass
            else:
                time.sleep(0.001)
            self.process_available()
            if self._stop.is_set():
                break
            if self.generators is not None:
                self.generators.tick(int(self.state.counters[shared_state.C_CLOCK]))

    def _resync(self) -> None:
        """Read (write position, overflow) consistently and restart windowing there."""
        hdr = self.state.audio_hdr
        while True:
            w1 = ring.consumer_write_position(hdr)
            overflow = int(hdr[ring.H_OVERFLOW])
            w2 = ring.consumer_write_position(hdr)
            if w1 == w2:
                break
        self._seen_overflow = overflow
        self._offset = overflow
        # after an overflow, frames before w1 are on the other side of a gap in time
        base = w1 if overflow else int(hdr[ring.H_READ])
        self._audio_seen, self._audio_from = self._model[2], base
        first = base + self.window
        self._next_end = first + (-(first + overflow)) % self.hop
        ring.consumer_release_to(hdr, base)
        self._publish()
        self.extractor.reset()  # the next window does not follow the last one
        self._reset_backend()  # nor does a recurrent model's next step follow its last

    def _reset_backend(self) -> None:
        """``backend.reset()`` on the plugin worker (where ``infer`` runs, so never during a call), with the
        deadline; a failure counts as a failed hop."""
        model = self._model
        backend = model[0]
        failure = self._caller.try_call(
            f"backend {getattr(backend, 'name', '?')}", backend.reset, timeout_s=self.timeout_s, step="reset"
        )[1]
        if failure is not None:
            self.counters[shared_state.I_TIMEOUTS if failure.hung else shared_state.I_ERRORS] += 1
            self._give_up(model, failure)

    def process_available(self) -> int:
        """Run inference for the newest complete hop, if any; return results pushed (0 or 1).

        Then tell the audio thread where the next window ends (it waits for that while JACK freewheels).
        """
        pushed = self._process_newest()
        self._publish()
        return pushed

    def _publish(self) -> None:
        # after the result (and its generator events) is in its ring: x86-64 and aarch64 keep this order
        # for an aligned 8-byte store following the ring's release fence
        self.state.sync[shared_state.Y_NEXT_END] = self._next_end

    def _process_newest(self) -> int:
        hdr = self.state.audio_hdr
        if int(hdr[ring.H_OVERFLOW]) != self._seen_overflow:
            self.counters[shared_state.I_RESYNCS] += 1
            self._resync()
            return 0
        w = ring.consumer_write_position(hdr)
        if w < self._next_end:
            return 0
        behind = (w - self._next_end) // self.hop
        if behind > 0:
            self.counters[shared_state.I_SKIPPED] += behind
            self._next_end += behind * self.hop
        end = self._next_end
        model = self._model  # one read: a swap lands between hops, never inside one
        audio = model[2]
        if audio is not self._audio_seen:  # a swap: its first window starts here, not before frames released earlier
            self._audio_seen, self._audio_from, self._held = audio, end, None
        mix_to_mono(self.state.audio, end - self.window, self.window, self.channel, self._buf)
        hop_index = (end + self._offset) // self.hop
        hears = (
            audio is not None and hop_index >= self._next_audio_hop and end - audio.source_frames >= self._audio_from
        )
        if hears:
            audio.fill(self.state.audio, end, self.channel)
            self._next_audio_hop = (hop_index // audio.every + 1) * audio.every
        self._next_end = end + self.hop
        keep = self.window if audio is None else max(self.window, audio.source_frames)
        ring.consumer_release_to(hdr, self._next_end - keep)
        if int(hdr[ring.H_OVERFLOW]) != self._seen_overflow:
            return 0  # the window may span a drop: discard it, resync next time
        self.counters[shared_state.I_BAD_SAMPLES] += self._analyse()
        frame = end - 1 + self._offset
        if audio is None:
            return self._infer_and_push(model, frame, self._features)
        if hears:
            return self._infer_and_push(model, frame, audio.samples)
        if self._held is None:
            return 0  # no window heard yet
        va, dominance, y = self._held
        return self._push(frame, va, dominance, y, 0)

    def _analyse(self) -> int:
        """Features of the window in ``_buf`` (resampled first if needed); returns the bad-sample count."""
        if self.resampler is not None:
            # soxr would spread NaN/Inf over the whole window: count and zero them first
            bad = int(np.count_nonzero(~np.isfinite(self._buf)))
            if bad:
                self._buf[~np.isfinite(self._buf)] = 0.0
            self.resampler(self._buf, self._analysis)
            return bad + self.extractor.compute(self._analysis, self._features)
        return self.extractor.compute(self._buf, self._features)

    def _infer_and_push(self, model: tuple, frame: int, x: np.ndarray) -> int:
        """Run ``model``'s backend on ``x`` (features or its audio window) and push the result stamped ``frame``."""
        backend, mapping, audio = model
        name = getattr(backend, "name", "?")
        y, failure = self._caller.try_call(f"backend {name}", _logits, backend, x, timeout_s=self.timeout_s)
        if failure is not None:
            self.counters[shared_state.I_TIMEOUTS if failure.hung else shared_state.I_ERRORS] += 1
            self._give_up(model, failure)
            return 0
        elapsed_us = self._caller.elapsed_us
        direct = getattr(backend, "output_kind", "grid") == VALENCE_AROUSAL_OUTPUT
        if y.shape not in (((2,), (3,)) if direct else ((EMOTIONS,),)) or not np.isfinite(y).all():
            self.counters[shared_state.I_NONFINITE] += 1
            self._give_up(model, PluginFailure(f"backend {name} returned non-finite or shape {y.shape}", False))
            return 0
        self._failures.ok()
        self._last_good = y
        dominance = None
        if direct:
            self._va[0], self._va[1], self._va[2] = np.clip(y[0], -1, 1), np.clip(y[1], -1, 1), 1.0
            dominance = float(np.clip(y[2], -1, 1)) if y.shape == (3,) else None
            y = np.zeros(EMOTIONS)  # no grid to show
        else:
            grid_centroid(y, self._va)  # the confidence is the grid's spread either way
            if mapping is not None:
                learned_mapping(y, mapping, self._vad)
                self._va[0], self._va[1], dominance = self._vad
        if audio is not None:
            self._held = (self._va.copy(), dominance, y)
        return self._push(frame, self._va, dominance, y, elapsed_us)

    def _push(self, frame: int, va: np.ndarray, dominance: float | None, y: np.ndarray, elapsed_us: int) -> int:
        """Push one result record (valence, arousal, confidence ``va``; the grid ``y``); run the generators."""
        rec = self._record
        rec[shared_state.R_FRAME] = frame
        rec[shared_state.R_DOMINANCE] = 0.0 if dominance is None else dominance
        rec[shared_state.R_VALENCE] = va[0]
        rec[shared_state.R_AROUSAL] = va[1]
        rec[shared_state.R_CONFIDENCE] = va[2]
        rec[shared_state.R_INFER_US] = elapsed_us
        rec[shared_state.R_EMOTION : shared_state.R_EMOTION + EMOTIONS] = y
        self.counters[shared_state.I_INFER_MAX_US] = max(int(self.counters[shared_state.I_INFER_MAX_US]), elapsed_us)
        self.counters[shared_state.I_INFER_TOTAL_US] += elapsed_us
        if not ring.record_push(self.state.result_hdr, self.state.results, rec):
            return 0
        self.counters[shared_state.I_RESULTS] += 1
        self.last_result = rec.copy()
        if self.generators is not None:
            self.generators.after_result(frame, va[0], va[1], dominance, self._features)
        return 1

    def _give_up(self, model: tuple, failure: PluginFailure) -> None:
        """Report a failed hop; replace the backend by the hold-last stub when it failed for good."""
        if not self._failures.failed(failure.hung) or self._model is not model:
            self._report(failure.message)
            return
        backend, mapping, _ = model
        kind = getattr(backend, "output_kind", "grid")
        self._model = (HoldLastBackend(getattr(backend, "name", "?"), self._last_good, kind), mapping, None)
        self._failures.ok()
        self.counters[shared_state.I_REPLACED] += 1
        print(
            f"kelly-jack: {failure.message}; backend replaced by one that holds its last good output "
            "(reload the model with SIGHUP to try again)",
            file=sys.stderr,
            flush=True,
        )
