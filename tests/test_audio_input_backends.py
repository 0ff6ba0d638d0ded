"""Backends that hear audio: the window the inference thread hands them, their cadence, valence/arousal outputs,
ring sizing, refusals, and the example plugin's ``onset-rate`` through the offline engine and on a real jackd."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kelly_jack.backends import BackendError
from kelly_jack.backends.base import BackendBase, check_shape
from kelly_jack.engine.state import AUDIO_RING_FRAMES, SharedState
from kelly_jack.inference import InferenceThreadManager
from kelly_jack.inference.audio_input import AudioInput, ring_frames
from kelly_jack.rt.shared_state import (
    I_NONFINITE,
    I_RESULTS,
    R_AROUSAL,
    R_CONFIDENCE,
    R_DOMINANCE,
    R_EMOTION,
    R_FRAME,
    R_INFER_US,
    R_VALENCE,
)

from support import recordings as rec
from support.cfunc_clients import MidiRecorder, Player
from support.jackd import ROOT, Kelly, wait_until, write_config
from support.rings import audio_period, results

EXAMPLE = ROOT / "plugins" / "kelly-jack-example-backend"
WINDOW, HOP = 256, 64


class Heard(BackendBase):
    """Records each window it is handed; answers valence/arousal (and dominance) from its last sample."""

    name = "heard"
    input_kind = "audio"
    output_kind = "valence_arousal"

    def __init__(self, rate=48000, window=1000, hop=300, outputs=3):
        self.audio_rate, self.audio_window, self.audio_hop = rate, window, hop
        self.input_size, self.output_size = window, outputs
        self.windows: list[np.ndarray] = []

    def infer(self, x):
        self.windows.append(x.copy())
        return np.array([0.5, -2.0, 0.25][: self.output_size])


def drive(m: InferenceThreadManager, state: SharedState, signal: np.ndarray, period: int = 32) -> None:
    for start in range(0, signal.size, period):
        audio_period(state, signal[None, start : start + period])
        while m.process_available():
            pass


def test_the_window_ends_at_the_stamped_frame_and_runs_every_rounded_hop():
    state = SharedState(1, audio_frames=4096)
    backend = Heard(window=1000, hop=300)  # 300 frames on 64-frame hops: every 5 hops (320 frames)
    m = InferenceThreadManager(state, backend, WINDOW, HOP, -1, -1)
    m._resync()
    ramp = np.arange(4000, dtype=np.float32)
    drive(m, state, ramp)
    rows = results(state)
    stamps = [int(r[R_FRAME]) for r in rows]
    assert stamps == list(range(1023, 4000, HOP))  # the first result once 1000 frames are whole, then every hop
    heard_at = [int(w[-1]) for w in backend.windows]
    # the first window as soon as it is whole, then on the client-frame grid of every 5th hop (render == live)
    assert heard_at == [1023, *range(20 * HOP - 1, 4000, 5 * HOP)]
    for w in backend.windows:
        assert np.array_equal(w, np.arange(w[-1] - 999, w[-1] + 1, dtype=np.float32))
    fresh = [r for r in rows if r[R_INFER_US] > 0 or int(r[R_FRAME]) in heard_at]
    assert len(fresh) == len(heard_at)
    for r in rows:  # held between the backend's hops; clipped to -1..1; confidence 1; no grid
        assert (r[R_VALENCE], r[R_AROUSAL], r[R_DOMINANCE], r[R_CONFIDENCE]) == (0.5, -1.0, 0.25, 1.0)
        assert not r[R_EMOTION : R_EMOTION + 64].any()


def test_another_backend_rate_is_resampled_from_the_server_rate():
    state = SharedState(1, audio_frames=1 << 15)
    backend = Heard(rate=16000, window=4000, hop=4000)  # 0.25 s at 16 kHz from 48 kHz frames
    m = InferenceThreadManager(state, backend, WINDOW, HOP, -1, -1)
    m._resync()
    tone = np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000).astype(np.float32)
    drive(m, state, tone, period=256)
    assert backend.windows and all(w.shape == (4000,) for w in backend.windows)
    expected = np.sin(2 * np.pi * 1000 * np.arange(4000) / 16000)
    w = backend.windows[-1]
    spectrum = np.abs(np.fft.rfft(w * np.hanning(w.size)))
    assert np.argmax(spectrum) == pytest.approx(1000 * w.size / 16000, abs=1)  # 1 kHz at 16 kHz
    assert np.std(w) == pytest.approx(np.std(expected), rel=0.05)


def test_a_ring_too_small_for_the_window_is_refused_and_ring_frames_sizes_it():
    backend = Heard(rate=16000, window=48000, hop=8000)  # 3 s
    with pytest.raises(ValueError, match="the audio ring holds 131072"):
        InferenceThreadManager(SharedState(1), backend, 2048, 1024, -1, -1)
    frames = ring_frames(backend, 48000, 1024)
    assert frames >= 2 * AudioInput(backend, 48000, 1024).source_frames and frames & (frames - 1) == 0
    InferenceThreadManager(SharedState(1, audio_frames=frames), backend, 2048, 1024, -1, -1)
    assert ring_frames(object(), 48000, 1024) == AUDIO_RING_FRAMES


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"audio_rate": 0}, "audio_rate 0 Hz"),
        ({"audio_hop": 0}, "a hop above 0"),
        ({"audio_window": 31 * 16000, "input_size": 31 * 16000}, "at most 30 s"),
        ({"input_size": 7}, "input_size 7 is not its audio_window"),
        ({"output_size": 64}, "valence_arousal output is 2 or 3"),
        ({"output_kind": "words"}, "output_kind 'words'"),
        ({"input_kind": "video"}, "input_kind 'video'"),
    ],
)
def test_what_a_backend_declares_is_checked_at_load(change, words):
    backend = Heard(rate=16000, window=16000, hop=8000)
    for key, value in change.items():
        setattr(backend, key, value)
    with pytest.raises(BackendError, match=words):
        check_shape(backend)


def test_bad_valence_arousal_outputs_are_dropped_counted_and_the_backend_replaced_by_a_neutral_one():
    state = SharedState(1, audio_frames=4096)
    backend = Heard(window=500, hop=64)
    backend.infer = lambda x: np.array([np.nan, 0.0])
    m = InferenceThreadManager(state, backend, WINDOW, HOP, -1, -1, max_failures=3)
    m._resync()
    drive(m, state, np.zeros(700, dtype=np.float32))  # hops end at 512 (the first whole window), 576, 640
    assert m.counters[I_RESULTS] == 0 and m.counters[I_NONFINITE] == 3
    assert m.backend.name.startswith("hold-last") and m.audio_input is None
    drive(m, state, np.zeros(300, dtype=np.float32))
    rows = results(state)
    assert rows and all((r[R_VALENCE], r[R_AROUSAL], r[R_CONFIDENCE]) == (0.0, 0.0, 1.0) for r in rows)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(EXAMPLE)]
    subprocess.run(cmd, check=True, capture_output=True)
    return target


def onset_config(path, extra: str = "") -> None:
    path.write_text(
        "ports: {inputs: 1}\nbackend: {name: onset-rate, window_s: 2.0, hop_s: 0.5}\nemotion: {smoothing_ms: 0}\n"
        "generators: {}\n" + extra
    )


def test_onset_rate_renders_and_hears_faster_clicks_as_more_aroused(tmp_path, example_site):
    """Through the offline engine (the live engine's code, no JACK): 60 BPM then 240 BPM clicks."""
    audio = np.concatenate([rec.clicks(6.0, bpm=60.0), rec.clicks(6.0, bpm=240.0)]).astype(np.float32)
    sf.write(tmp_path / "clicks.wav", audio, rec.RATE)
    onset_config(tmp_path / "k.yaml")
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    cmd = [sys.executable, "-m", "kelly_jack", "render", str(tmp_path / "clicks.wav"), "-o", str(tmp_path / "o.mid")]
    r = subprocess.run(
        [*cmd, "--csv", str(tmp_path / "t.csv"), "--config", str(tmp_path / "k.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    rows = np.genfromtxt(tmp_path / "t.csv", delimiter=",", names=True)
    frames, arousal = rows["window_end_frame"], rows["arousal"]
    assert frames[0] >= 2.0 * rec.RATE - 1  # nothing before the first whole 2 s window
    slow, fast = arousal[(frames > 3 * 48000) & (frames < 6 * 48000)], arousal[frames > 9 * 48000]
    assert slow.max() < fast.min()
    assert len(np.unique(arousal)) < len(arousal) / 10  # held between its 0.5 s hops


@pytest.mark.jack
def test_an_audio_input_backend_runs_on_jack_and_its_ccs_come_out(example_site, jack_server, tmp_path):
    name = "k-audio-in"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1}\nbackend: {name: onset-rate, window_s: 1.0, hop_s: 0.25, busy_per_s: 4.0}\n"
        "emotion: {smoothing_ms: 0}\ngenerators: {}\nconnect: {midi_out: ['^rec-audio-in:in$']}\n",
    )
    rec_midi = MidiRecorder(jack_server, "rec-audio-in")
    player = Player(jack_server, rec.clicks(20.0, bpm=240.0).astype(np.float32), "play-audio-in")
    kelly = Kelly(jack_server, cfg, env={**jack_server.env, "PYTHONPATH": str(example_site)})
    try:
        assert "backend onset-rate" in kelly.wait_ready()
        player.client.connect(player.port, f"{name}:in_1")
        player.play()
        assert wait_until(lambda: any(v >= 100 for _, v in rec_midi.cc(21)), 15)  # 4 onsets a second: aroused
        rc, out, err = kelly.stop()
    finally:
        kelly.stop()
        player.close()
        rec_midi.close()
    assert rc == 0, err


def test_model_info_shows_what_an_audio_backend_hears(example_site):
    code = (
        "from kelly_jack.backends import create_backend; import json;"
        "b = create_backend('onset-rate', {'rate': 22050, 'window_s': 3.0});"
        "print(json.dumps([b.input_kind, b.audio_rate, b.audio_window, b.audio_hop, b.output_kind]))"
    )
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["audio", 22050, 66150, 11025, "valence_arousal"]


def test_model_run_runs_an_audio_backend_over_a_file_window_by_window(tmp_path, example_site):
    sf.write(tmp_path / "clicks.wav", rec.clicks(5.0, bpm=240.0).astype(np.float32), rec.RATE)
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    cmd = [sys.executable, "-m", "kelly_jack", "model", "run", "--backend", "onset-rate"]
    r = subprocess.run(
        [*cmd, "--input", str(tmp_path / "clicks.wav"), "--output", str(tmp_path / "y.csv")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    y = np.loadtxt(tmp_path / "y.csv", delimiter=",", ndmin=2)
    assert y.shape == (7, 2)  # 2 s windows every 0.5 s over 5 s: ends at 2.0, 2.5, ..., 5.0
    assert "the first ends at 2.000 s" in r.stderr
    assert np.all(y[:, 0] == 0.0) and np.all(y[:, 1] > -1.0)
    sf.write(tmp_path / "short.wav", np.zeros(1000, dtype=np.float32), rec.RATE)
    r = subprocess.run(
        [*cmd, "--input", str(tmp_path / "short.wav"), "--output", str(tmp_path / "z.csv")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 2 and "shorter than one window (2 s)" in r.stderr and not (tmp_path / "z.csv").exists()


@pytest.mark.jack
def test_the_start_says_when_a_backend_is_slower_than_the_inference_budget(jack_server, tmp_path):
    for delay, warned in ((40, True), (1, False)):
        cfg = write_config(
            tmp_path / f"k{delay}.yaml",
            jack_server,
            f"k-budget-{delay}",
            f"ports: {{inputs: 1}}\nbackend: {{name: slow, delay_ms: {delay}}}\nlatency: {{inference_budget: 20ms}}\n",
        )
        kelly = Kelly(jack_server, cfg)
        try:
            kelly.wait_ready()
            rc, out, err = kelly.stop()
        finally:
            kelly.stop()
        assert rc == 0, err
        assert ("more than the inference budget of 20.0 ms" in err) is warned, err
        if warned:
            assert "backend slow takes 4" in err and "set latency.inference_budget to at least" in err


@pytest.mark.parametrize("period", [16, 64])
def test_the_windows_heard_do_not_depend_on_the_period_size(period):
    """Live (JACK periods) and render (offline blocks) feed the same thread in other chunks: the same windows.
    (Periods up to a hop: with longer ones the thread takes the newest hop of each, as for any backend.)"""
    heard = {}
    for size in (32, period):
        state = SharedState(1, audio_frames=8192)
        backend = Heard(window=700, hop=200)
        m = InferenceThreadManager(state, backend, WINDOW, HOP, -1, -1)
        m._resync()
        drive(m, state, np.arange(6000, dtype=np.float32), period=size)
        heard[size] = [int(w[-1]) for w in backend.windows]
    assert heard[32] == heard[period] and len(heard[32]) > 10


def test_a_hot_swap_to_an_audio_backend_waits_for_a_whole_window_and_one_too_long_is_refused():
    state = SharedState(1, audio_frames=4096)
    m = InferenceThreadManager(state, Heard(window=500, hop=64), WINDOW, HOP, -1, -1)
    m._resync()
    drive(m, state, np.arange(1000, dtype=np.float32))
    swapped = Heard(window=900, hop=64)
    m.set_inference_function(swapped)
    drive(m, state, np.arange(1000, 3000, dtype=np.float32))
    first = int(swapped.windows[0][-1])
    assert first >= 1024 + 900 - 1  # the swap lands on the hop ending at 1024: a whole window after it
    assert np.array_equal(swapped.windows[0], np.arange(first - 899, first + 1, dtype=np.float32))
    with pytest.raises(ValueError, match="the audio ring holds 4096"):
        m.set_inference_function(Heard(window=3000, hop=64))
    assert m.backend is swapped  # the refused one never ran
