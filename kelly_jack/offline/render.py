"""``kelly-jack render``: an audio file through the live engine, to a Standard MIDI File and a timeline.

The file (any format soundfile reads) is read block by block, resampled with
soxr to the simulated server rate when asked, and fed to ``OfflineEngine``
in periods of ``block`` frames: the same kernels, window, hop, latency and
generators as a live run. Outputs:

* the MIDI file (mido; type 0, 960 ticks a beat at ``tempo.bpm``; every event
  of midi_out at its client frame, rounded to the nearest tick);
* ``--csv``: one row per result: window end frame, the output frame it is
  applied at (+ L), its time in seconds, valence, arousal;
* ``--plot``: valence/arousal over time with the notes under them (matplotlib);
* ``--features``: the 128 features of every result's hop (.npy).

Deterministic: the same input, config and block give the same bytes. All
outputs go to temporary files first and are renamed at the end, so a failed
run leaves nothing half-written. Errors: ``AudioFileError``, one line.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..io import AudioFileError, atomic_write_all, open_audio
from .engine import OfflineEngine
from .progress import file_progress

TICKS_PER_BEAT = 960
READ_S = 2.0  # seconds read at a time


@dataclass(frozen=True)
class RenderResult:
    events: list[tuple[int, bytes]]  # (client frame, message)
    results: int
    rate: int
    latency: int
    seconds: float


def midi_file_bytes(events: list[tuple[int, bytes]], rate: int, bpm: float) -> bytes:
    """A type-0 Standard MIDI File of ``events`` (client frame, message) at ``rate`` Hz and ``bpm``."""
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    last = 0
    for frame, data in events:
        tick = int(round(frame / rate * bpm / 60.0 * TICKS_PER_BEAT))
        track.append(mido.Message.from_bytes(list(data), time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _plot_png(engine: OfflineEngine, events: list[tuple[int, bytes]]) -> bytes:
    try:
        import matplotlib
    except ImportError:
        raise AudioFileError("--plot needs matplotlib: pip install 'kelly-jack[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate, t = engine.rate, engine.timeline
    times = (np.asarray(t.frames) + engine.latency) / rate
    fig, (top, roll) = plt.subplots(2, 1, sharex=True, figsize=(10, 5), height_ratios=[1, 1.4])
    top.plot(times, t.valence, label="valence")
    top.plot(times, t.arousal, label="arousal")
    top.set_ylim(-1.05, 1.05)
    top.set_ylabel("model output")
    top.legend(loc="upper right")
    top.grid(alpha=0.3)
    sounding: dict[tuple[int, int], float] = {}
    for frame, m in events:
        kind, key = m[0] & 0xF0, (m[0] & 0x0F, m[1] if len(m) > 1 else 0)
        if kind == 0x90 and m[2] > 0:
            sounding[key] = frame / rate
        elif (kind == 0x80 or kind == 0x90) and key in sounding:
            start = sounding.pop(key)
            roll.broken_barh([(start, frame / rate - start)], (key[1] - 0.4, 0.8), color=f"C{key[0] % 10}")
    roll.set_ylabel("MIDI note")
    roll.set_xlabel("output time (s)")
    roll.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: same bytes
    plt.close(fig)
    return buf.getvalue()


def render(
    src: str | Path,
    cfg: dict,
    backend,
    generators: list,
    output: str | Path,
    *,
    rate: int | None = None,
    block: int = 128,
    csv_path: str | Path | None = None,
    plot_path: str | Path | None = None,
    features_path: str | Path | None = None,
    progress: bool | None = None,
    notes: TextIO | None = None,
) -> RenderResult:
    """Render ``src`` to ``output`` (.mid) and the optional outputs; raises AudioFileError."""
    src, output = Path(src), Path(output)
    notes = notes or sys.stderr
    targets = [Path(p) for p in (output, csv_path, plot_path, features_path) if p is not None]
    for p in targets:
        if not p.parent.is_dir():
            raise AudioFileError(f"{p}: directory {p.parent} does not exist")
    inputs = cfg["ports"]["inputs"]
    with open_audio(src) as f:
        source_rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        if channels not in (1, inputs):
            raise AudioFileError(
                f"{src}: has {channels} channels; ports.inputs is {inputs} (give a mono file or {inputs})"
            )
        rate = rate or source_rate
        resampler = None
        if rate != source_rate:
            import soxr

            resampler = soxr.ResampleStream(source_rate, rate, channels, dtype="float32", quality="HQ")
            print(f"kelly-jack: note: {src} is at {source_rate} Hz; resampled to {rate} Hz", file=notes)
        try:
            engine = OfflineEngine(cfg, backend, generators, rate, inputs, block, keep_features=bool(features_path))
        except ValueError as e:
            raise AudioFileError(f"{src}: {e}") from None
        _feed(engine, f, frames, source_rate, channels, inputs, resampler, progress, src)
    engine.finish()
    events = engine.event_list()
    blobs = [(output, midi_file_bytes(events, rate, cfg["tempo"]["bpm"]))]
    if csv_path:
        blobs.append((Path(csv_path), _timeline_csv(engine)))
    if plot_path:
        blobs.append((Path(plot_path), _plot_png(engine, events)))
    if features_path:
        rows = np.array(engine.timeline.features, dtype=np.float32).reshape(-1, 128)
        buf = io.BytesIO()
        np.save(buf, rows)
        blobs.append((Path(features_path), buf.getvalue()))
    atomic_write_all(blobs)
    return RenderResult(events, len(engine.timeline.frames), rate, engine.latency, engine.clock / rate)


def _timeline_csv(engine: OfflineEngine) -> bytes:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["window_end_frame", "output_frame", "time_s", "valence", "arousal"])
    t = engine.timeline
    for frame, v, a in zip(t.frames, t.valence, t.arousal, strict=True):
        out = frame + engine.latency
        w.writerow([frame, out, f"{out / engine.rate:.6f}", f"{v:.6f}", f"{a:.6f}"])
    return text.getvalue().encode()


def _feed(engine, f, frames, source_rate, channels, inputs, resampler, progress, src) -> None:
    step = max(engine.block, int(READ_S * source_rate) // engine.block * engine.block)
    pending = np.zeros((0, inputs), dtype=np.float32)
    with file_progress(f"rendering {src.name}", frames, source_rate, progress) as update:
        done = 0
        while True:
            data = f.read(step, dtype="float32", always_2d=True)
            last = data.shape[0] < step
            if resampler is not None:
                data = resampler.resample_chunk(data, last=last)
            if channels == 1 and inputs > 1:
                data = np.repeat(data, inputs, axis=1)  # a mono file feeds every input, as patched to all
            pending = np.concatenate([pending, data]) if pending.size else data
            usable = pending.shape[0] if last else pending.shape[0] // engine.block * engine.block
            engine.feed(pending[:usable])
            pending = pending[usable:]
            done += step
            update(done)
            if last:
                return
