"""``kelly-jack features``: the 128 features of every hop of an audio file, as a .npy and a JSON sidecar.

The file (any format soundfile reads) is mixed to mono as the live client
mixes its inputs, resampled to the analysis rate with soxr if it differs, and
cut into the live path's windows: window ``i`` ends at frame
``first_end + i * hop`` (at the analysis rate), where ``first_end`` is the
first multiple of ``hop`` not below ``window`` (the inference thread's grid),
and the features come from the same ``FeatureExtractor``. The file is read
block by block, so memory holds one block plus the output rows.

Errors are ``kelly_jack.io.AudioFileError`` (one line naming the file); both outputs are written
to temporary files and renamed, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..io import AudioFileError, atomic_write_all, open_audio
from ..rt.features import FEATURE_SIZE, LAYOUT_VERSION, NAMES, FeatureExtractor
from .progress import file_progress

BLOCK_S = 2.0  # seconds of input read at a time


@dataclass(frozen=True)
class DumpResult:
    rows: int
    sample_rate: int
    source_rate: int
    resampled: bool
    bad_samples: int
    output: Path
    sidecar: Path


def first_window_end(window: int, hop: int) -> int:
    """End (exclusive frame index) of the first window on the live grid: a multiple of hop, >= window."""
    return -(-window // hop) * hop


def sidecar_path(output: Path) -> Path:
    return output.with_suffix(".json")


def dump_features(
    src: str | Path,
    output: str | Path,
    *,
    sample_rate: int = 48000,
    window: int = 2048,
    hop: int = 1024,
    channel: int = -1,
    progress: bool | None = None,
    notes: TextIO | None = None,
) -> DumpResult:
    """Write ``output`` (.npy, rows x 128 float32) and its .json sidecar for the audio file ``src``.

    ``channel`` is the 0-based channel analysed, -1 for the mean of all.
    ``progress`` None shows a bar for long files when stderr is a terminal.
    Notes (resampling, short files) go to ``notes`` (default stderr). Raises
    AudioFileError.
    """
    src, output = Path(src), Path(output)
    notes = notes or sys.stderr
    if output.suffix != ".npy":
        raise AudioFileError(f"{output}: the output must be a .npy file")
    if not output.parent.is_dir():
        raise AudioFileError(f"{output}: directory {output.parent} does not exist")
    with open_audio(src) as f:
        source_rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        if channel >= channels:
            raise AudioFileError(f"{src}: has {channels} channel(s); analysis.channel is {channel + 1}")
        resampler = None
        if source_rate != sample_rate:
            import soxr

            resampler = soxr.ResampleStream(source_rate, sample_rate, 1, dtype="float32", quality="HQ")
            print(f"kelly-jack: note: {src} is at {source_rate} Hz; resampled to {sample_rate} Hz", file=notes)
        rows, bad = _extract(f, frames, source_rate, channel, resampler, sample_rate, window, hop, progress, src)
    if rows.shape[0] == 0:
        print(f"kelly-jack: note: {src} is shorter than one window ({window} frames): no rows", file=notes)
    meta = {
        "layout_version": LAYOUT_VERSION,
        "names": list(NAMES),
        "sample_rate": sample_rate,
        "window": window,
        "hop": hop,
        "first_window_end": first_window_end(window, hop),
        "rows": int(rows.shape[0]),
        "channel": "mix" if channel < 0 else channel + 1,
        "source": str(src),
        "source_sample_rate": source_rate,
        "resampled": resampler is not None,
        "bad_samples": bad,
    }
    sidecar = sidecar_path(output)
    npy = io.BytesIO()
    np.save(npy, rows)
    atomic_write_all([(output, npy.getvalue()), (sidecar, json.dumps(meta, indent=1) + "\n")])
    return DumpResult(rows.shape[0], sample_rate, source_rate, resampler is not None, bad, output, sidecar)


def _extract(f, frames, source_rate, channel, resampler, sample_rate, window, hop, progress, src):
    """(rows, bad sample count) of the whole file, read block by block."""
    fx = FeatureExtractor(sample_rate, window, hop)
    out = np.zeros(FEATURE_SIZE, dtype=np.float32)
    chunks: list[np.ndarray] = []
    bad = 0
    buf = np.zeros(0, dtype=np.float32)
    base = 0  # analysis-rate frame index of buf[0]
    next_end = first_window_end(window, hop)
    block = max(1, int(BLOCK_S * source_rate))
    with file_progress(f"features of {src.name}", frames, source_rate, progress) as update:
        done = 0
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            last = data.shape[0] < block
            if channel >= 0:
                mono = np.ascontiguousarray(data[:, channel])
            else:
                mono = (data.astype(np.float64).sum(axis=1) / data.shape[1]).astype(np.float32)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            buf = np.concatenate([buf, mono]) if buf.size else mono
            rows = []
            while next_end <= base + buf.size:
                row = np.empty(FEATURE_SIZE, dtype=np.float32)
                bad += fx.compute(buf[next_end - window - base : next_end - base], out)
                row[:] = out
                rows.append(row)
                next_end += hop
            if rows:
                chunks.append(np.stack(rows))
            keep = next_end - window - base  # samples before the next window are done with
            if keep > 0:
                buf = buf[keep:].copy()
                base += keep
            done += data.shape[0]
            update(done)
            if last:
                break
    return (np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_SIZE), dtype=np.float32)), bad
