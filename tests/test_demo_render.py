"""The listening check, offline: the demo (config/studio.yaml, the demo source) rendered through the live
engine, and the basic musical facts of what the harmony generator plays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kelly_jack import demo
from kelly_jack.config import load_config
from kelly_jack.engine.parts import build_engine_parts
from kelly_jack.midi.generators.harmony import MODES
from kelly_jack.offline.engine import OfflineEngine

ROOT = Path(__file__).resolve().parents[1]
RATE = 48000


@pytest.fixture(scope="module")
def rendered():
    cfg = load_config(ROOT / "config" / "studio.yaml")
    assert [g["type"] for g in cfg["generators"].values()] == ["harmony"]
    backend, generators = build_engine_parts(cfg)
    engine = OfflineEngine(cfg, backend, generators, RATE, cfg["ports"]["inputs"], 256)
    x = demo.render(RATE, 5.0)
    engine.feed(np.repeat(x[:, None], cfg["ports"]["inputs"], axis=1))
    engine.finish()
    notes = [(f, m[1], m[2]) for f, m in engine.event_list() if m[0] == 0x91 and m[2] > 0]
    return cfg, engine, notes


def arousal_at(engine: OfflineEngine, frames: np.ndarray) -> np.ndarray:
    """The model's arousal of the latest result applied at or before each output frame."""
    t = engine.timeline
    applied = np.asarray(t.frames) + 1 + engine.latency
    i = np.searchsorted(applied, frames, side="right") - 1
    return np.asarray(t.arousal)[np.clip(i, 0, None)]


def test_no_note_hangs(rendered):
    _, engine, _ = rendered
    balance: dict[tuple[int, int], int] = {}
    for _, m in engine.event_list():
        if m[0] & 0xF0 in (0x80, 0x90):
            key = (m[0] & 0x0F, m[1])
            balance[key] = balance.get(key, 0) + (1 if m[0] & 0xF0 == 0x90 and m[2] > 0 else -1)
    assert balance and all(n <= 0 for n in balance.values())


def test_every_bar_stays_in_one_mode_of_the_key(rendered):
    cfg, engine, notes = rendered
    tonic = 0  # studio.yaml: key C
    assert cfg["generators"]["chords"]["key"] == "C"
    bar = int(cfg["tempo"]["beats_per_bar"] * 60 / cfg["tempo"]["bpm"] * RATE)
    first = notes[0][0]
    bars: dict[int, set[int]] = {}
    for f, n, _ in notes:
        bars.setdefault((f - first) // bar, set()).add(n % 12)
    scales = [{(tonic + s) % 12 for s in steps} for steps in MODES.values()]
    assert len(bars) >= 8
    for k, pcs in bars.items():
        assert any(pcs <= s for s in scales), f"bar {k}: pitch classes {sorted(pcs)} fit no mode of C"


def test_velocity_and_density_rise_with_arousal(rendered):
    _, engine, notes = rendered
    frames = np.array([f for f, _, _ in notes])
    velocity = np.array([v for _, _, v in notes])
    arousal = arousal_at(engine, frames)
    assert np.ptp(arousal) > 0.3  # the demo moves the model
    assert np.corrcoef(arousal, velocity)[0, 1] > 0.6
    seconds = np.arange(frames.min(), frames.max(), RATE)
    count = np.array([np.sum((frames >= s) & (frames < s + RATE)) for s in seconds])
    mean_arousal = np.array([arousal_at(engine, np.arange(s, s + RATE, 1024)).mean() for s in seconds])
    assert np.corrcoef(mean_arousal, count)[0, 1] > 0.5


def test_the_shipped_model_hears_each_demo_mood_in_its_quadrant():
    """The moods are composed with the label rules' cues; over the last 5 s of each (15 s, the demo's
    default), the shipped model's valence and arousal have the mood's signs."""
    quadrant = {"bright": (1, 1), "tender": (1, -1), "sombre": (-1, -1), "driving": (-1, 1)}
    assert [m.name for m in demo.MOODS] == list(quadrant)
    cfg = load_config(ROOT / "config" / "studio.yaml")
    backend, generators = build_engine_parts(cfg)
    engine = OfflineEngine(cfg, backend, generators, RATE, cfg["ports"]["inputs"], 256)
    seconds = 15.0
    x = demo.render(RATE, seconds)
    engine.feed(np.repeat(x[:, None], cfg["ports"]["inputs"], axis=1))
    engine.finish()
    t = np.asarray(engine.timeline.frames) / RATE
    va = np.stack([engine.timeline.valence, engine.timeline.arousal], axis=1)
    for i, mood in enumerate(demo.MOODS):
        end = (i + 1) * seconds
        v, a = va[(t >= end - 5) & (t < end)].mean(axis=0)
        assert (np.sign(v), np.sign(a)) == quadrant[mood.name], f"{mood.name}: valence {v:+.2f}, arousal {a:+.2f}"
