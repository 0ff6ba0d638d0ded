#!/usr/bin/env python3
"""Benchmark: the emotion model's cost per hop in each backend, beside the feature extractor's.

What the inference thread pays per hop (window 2048, hop 1024 at 48 kHz): the
extractor's ``compute`` on one window, then the backend's ``infer`` on the 128
features (the call from Python included; a recurrent model carries its state
from call to call, as live). Models: the files given, else the one-hop MLP
(128 -> 64 tanh -> 64) and the GRU model (128 -> 64 tanh -> GRU 32 -> 64 and
GRU 48) with seeded random weights, written by the training exporters (and the
TFLite writer). Each model runs in the rtneural backend (float64, the default,
and float32), the onnx backend and the tflite backend (builtin kernels, the
default, and XNNPACK); each figure is the median per-hop time over ``--hops`` hops of a
chord signal's real features.

    .venv/bin/python scripts/bench_emotion.py [--hops 2000] [model.onnx model.rtneural.json model.tflite ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kelly_jack.backends.onnx import OnnxBackend
from kelly_jack.backends.rtneural import RTNeuralBackend
from kelly_jack.backends.tflite import TfliteBackend
from kelly_jack.backends.tflite.writer import tflite_bytes
from kelly_jack.rt.features import FeatureExtractor
from kelly_jack.training import export
from kelly_jack.training.gru import GruNetwork
from kelly_jack.training.mlp import Network

SR, WINDOW, HOP = 48000, 2048, 1024


def chords(seconds: float) -> np.ndarray:
    """A I-vi-IV-V progression of triads, one per second, over soft noise, with clicks at 120 BPM."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.02 * rng.standard_normal(t.size)
    roots = [261.6, 220.0, 174.6, 196.0]
    for i in range(int(np.ceil(seconds))):
        lo, hi = i * SR, min((i + 1) * SR, t.size)
        for ratio in (1.0, 1.26, 1.5):
            x[lo:hi] += 0.1 * np.sin(2 * np.pi * roots[i % 4] * ratio * t[lo:hi])
    x[:: SR // 2] += 0.8
    return x.astype(np.float32)


def random_models(folder: Path) -> list[Path]:
    """The MLP and GRU models with seeded random weights, as both files each."""
    rng = np.random.default_rng(0)

    def r(*shape, scale=0.1):
        return rng.normal(0, scale, shape)

    nets = {"mlp": Network(r(64, 128), r(64), r(64, 64), r(64), np.zeros((3, 64)))}
    for n in (32, 48):
        nets[f"gru{n}"] = GruNetwork(
            r(64, 128), r(64), r(64, 3 * n), r(n, 3 * n), r(3 * n), r(3 * n), r(64, n), r(64), np.zeros((3, 64))
        )
    paths = []
    for name, net in nets.items():
        meta = export.metadata(net, layout_version=0, rate=SR, window=WINDOW, hop=HOP, training="random weights")
        export.save(net, meta, folder / f"{name}.onnx", folder / f"{name}.rtneural.json")
        doc = json.loads((folder / f"{name}.rtneural.json").read_text())
        (folder / f"{name}.tflite").write_bytes(tflite_bytes(doc))
        paths += [folder / f"{name}.onnx", folder / f"{name}.rtneural.json", folder / f"{name}.tflite"]
    return paths


def per_hop_us(fn, rows: np.ndarray) -> float:
    """Median microseconds of ``fn(row)`` over the rows, after one pass to warm up."""
    for row in rows[:50]:
        fn(row)
    times = []
    for row in rows:
        t0 = time.perf_counter_ns()
        fn(row)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "models", nargs="*", type=Path, help=".onnx, .json and .tflite model files (default: random MLP and GRUs)"
    )
    p.add_argument("--hops", type=int, default=2000)
    a = p.parse_args()
    x = chords((WINDOW + a.hops * HOP) / SR + 0.1)
    fx = FeatureExtractor(SR, WINDOW, HOP)
    feats = np.zeros((a.hops, 128), dtype=np.float32)
    frames = [x[j * HOP : j * HOP + WINDOW] for j in range(a.hops)]
    for j, f in enumerate(frames):
        fx.compute(f, feats[j])
    fx.reset()
    out = np.zeros(128, dtype=np.float32)
    extractor = per_hop_us(lambda f: fx.compute(f, out), frames)
    print(f"per hop (window {WINDOW}, hop {HOP} = {1000 * HOP / SR:.1f} ms at {SR} Hz), median over {a.hops} hops")
    print(f"{'feature extractor (128 features)':52s} {extractor:8.1f} us")
    with tempfile.TemporaryDirectory() as tmp:
        for path in a.models or random_models(Path(tmp)):
            if path.suffix == ".onnx":
                backends = [("onnx", OnnxBackend({"model": str(path)}))]
            elif path.suffix == ".tflite":
                backends = [
                    (f"tflite xnnpack={x}", TfliteBackend({"model": str(path), "xnnpack": x})) for x in (False, True)
                ]
            else:
                backends = [
                    (f"rtneural {prec}", RTNeuralBackend({"model": str(path), "precision": prec}))
                    for prec in ("float64", "float32")
                ]
            for label, backend in backends:
                backend.reset()
                us = per_hop_us(backend.infer, feats)
                kind = "recurrent" if backend.metadata.get("recurrent") else "one hop"
                print(f"{path.stem + ' (' + kind + '), ' + label:52s} {us:8.1f} us  ({us / extractor:.2f} x extractor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
