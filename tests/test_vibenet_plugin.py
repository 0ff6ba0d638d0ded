"""The VibeNet plugin (plugins/kelly-jack-vibenet, GPL-3.0): pip-installed beside kelly, listed, and run on a real
jackd with CCs coming out. VibeNet is fetched from PyPI into a folder of the test's own, never into kelly's venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kelly_jack.rt.emotion import cc_value

from support import recordings as rec
from support.cfunc_clients import MidiRecorder, Player
from support.jackd import ROOT, Kelly, wait_until, write_config

PLUGIN = ROOT / "plugins" / "kelly-jack-vibenet"


@pytest.fixture(scope="module")
def vibenet_site(tmp_path_factory):
    """The plugin and VibeNet (and pydub, which VibeNet imports) pip-installed into a folder of their own; the
    rest VibeNet needs (librosa, onnxruntime, soxr, scipy, soundfile) is in the test venv already."""
    target = tmp_path_factory.mktemp("vibenet-site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    r = subprocess.run([*cmd, str(PLUGIN), "vibenet==0.1.0", "pydub==0.25.1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return target


def env(site) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site)}


def test_the_plugin_is_listed_with_its_distribution(vibenet_site):
    out = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "backends"], env=env(vibenet_site), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    line = next(row for row in out.stdout.splitlines() if row.startswith("vibenet"))
    assert "kelly-jack-vibenet" in line and "0.1.0" in line


def test_model_run_gives_vibenets_valence_and_energy_per_window(tmp_path, vibenet_site):
    sf.write(tmp_path / "chords.wav", rec.chords(5.0).astype(np.float32), rec.RATE)
    cmd = [sys.executable, "-m", "kelly_jack", "model", "run", "--backend", "vibenet", "--input"]
    r = subprocess.run(
        [*cmd, str(tmp_path / "chords.wav"), "--output", str(tmp_path / "y.npy")],
        env=env(vibenet_site),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (5, 2) and np.isfinite(y).all() and (np.abs(y) <= 1).all()  # 3 s windows every 0.5 s


@pytest.mark.jack
def test_a_config_selecting_vibenet_runs_on_jack_and_its_ccs_come_out(vibenet_site, jack_server, tmp_path):
    name = "k-vibenet"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1}\nbackend: {name: vibenet, window_s: 2.0, hop_s: 0.5}\n"
        "latency: {inference_budget: 300ms}\nemotion: {smoothing_ms: 0}\ngenerators: {}\n"
        "connect: {midi_out: ['^rec-vibenet:in$']}\n",
    )
    recorder = MidiRecorder(jack_server, "rec-vibenet")
    player = Player(jack_server, (0.5 * rec.chords(30.0)).astype(np.float32), "play-vibenet")
    kelly = Kelly(jack_server, cfg, env={**jack_server.env, "PYTHONPATH": str(vibenet_site)})
    try:
        started = kelly.wait_ready()
        assert "backend vibenet" in started and "latency 15360 frames" in started  # 20 ms + 300 ms at 48 kHz
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        # the first whole 2 s window, then VibeNet's valence and energy as CCs 20 and 21
        assert wait_until(lambda: any(v != cc_value(0.0) for _, v in recorder.cc(21)), 20)
        rc, out, err = kelly.stop()
    finally:
        kelly.stop()
        player.close()
        recorder.close()
    assert rc == 0, err
    assert re.search(r"results \d+ applied, 0 late", out), out  # the budget covers VibeNet's time
