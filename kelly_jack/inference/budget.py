"""Does the backend fit the inference budget? Its time per call, measured, against the latency's budget.

A result for the window ending at frame t is applied at t + L (L = lookahead + budget); a backend
slower than the budget delivers late. ``kelly-jack doctor`` and the live start measure it here.
Main thread (it calls the backend: before the inference thread starts, or in the doctor).
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def time_inference(backend, runs: int) -> float:
    """Median seconds of one ``infer`` call over ``runs`` calls (after one warm-up call that compiles)."""
    x = np.random.default_rng(0).standard_normal(backend.input_size).astype(np.float32)
    backend.reset()
    backend.infer(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        backend.infer(x)
        times.append(time.perf_counter() - t0)
    backend.reset()
    return statistics.median(times)


def budget_warning(backend, budget_frames: int, rate: float, runs: int = 5) -> str | None:
    """One line when ``backend``'s measured time per call is over the budget (frames at ``rate`` Hz), else None."""
    try:
        ms = 1000.0 * time_inference(backend, runs)
    except Exception:  # a backend that fails is the inference thread's to count and report, not the start's
        return None
    budget_ms = 1000.0 * budget_frames / rate
    if ms <= budget_ms:
        return None
    hears = ""
    if getattr(backend, "input_kind", "features") == "audio":
        rate_in = backend.audio_rate
        hears = f" (it hears {backend.audio_window / rate_in:g} s every {backend.audio_hop / rate_in:g} s)"
    return (
        f"backend {backend.name} takes {ms:.1f} ms a call{hears}, more than the inference budget of "
        f"{budget_ms:.1f} ms: its results will arrive late; set latency.inference_budget to at least "
        f"{int(ms * 1.5) + 1}ms"
    )
