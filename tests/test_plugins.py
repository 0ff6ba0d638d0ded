"""The plugin system: built-ins as plugins, config modules, entry points, broken plugins, the example package."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from kelly_jack.plugins import load_plugins
from kelly_jack.rt.emotion import logits_for

from support.cfunc_clients import MidiRecorder
from support.jackd import ROOT, Kelly, wait_until, write_config

EXAMPLE = ROOT / "plugins" / "kelly-jack-example-backend"
EXAMPLE_GENERATOR = ROOT / "plugins" / "kelly-jack-example-generator"


def test_builtins_are_ordinary_plugins():
    p = load_plugins()
    assert {"constant", "echo", "random", "slow", "failing", "heuristic", "onnx"} <= set(p.backends)
    assert p.backends["onnx"].plugin == "kelly_jack.onnx"
    assert p.backends["constant"].distribution == "kelly-jack"


def test_config_modules_and_broken_plugins_do_not_stop_the_rest():
    p = load_plugins(["plugin_modules.good_plugin", "plugin_modules.raising_plugin", "plugin_modules.missing"])
    assert "zeros" in p.backends
    assert p.backends["constant"].plugin == "kelly_jack.stubs"  # a plugin cannot take over a built-in's name
    errors = "\n".join(p.errors)
    assert "'plugin_modules.raising_plugin'" in errors and "broken on purpose" in errors
    assert "'plugin_modules.missing'" in errors and "failed to load" in errors
    assert "backend 'constant' is already provided by 'kelly_jack.stubs'" in errors
    assert "heuristic" in p.backends


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """The example plugins pip-installed into a folder of their own (not into the test venv)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(EXAMPLE),
            str(EXAMPLE_GENERATOR),
        ],
        check=True,
        capture_output=True,
    )
    return target


def kelly_env(site, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KELLY_JACK_LOAD_PLUGINS"}
    return {**env, "PYTHONPATH": str(site), **extra}


def test_installed_plugin_is_listed_with_its_distribution(example_site):
    out = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "backends"], env=kelly_env(example_site), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("linear-npz"))
    assert "example" in line and "kelly-jack-example-backend" in line and "0.1.0" in line


@pytest.mark.parametrize(("setting", "listed"), [("", False), ("example", True), ("other,example", True), ("x", False)])
def test_load_plugins_variable_selects_entry_points(example_site, setting, listed):
    env = kelly_env(example_site, KELLY_JACK_LOAD_PLUGINS=setting)
    out = subprocess.run([sys.executable, "-m", "kelly_jack", "backends"], env=env, capture_output=True, text=True)
    assert out.returncode == 0
    assert ("linear-npz" in out.stdout) is listed
    assert "onnx" in out.stdout  # built-ins are always there


@pytest.mark.jack
@pytest.mark.pipewire
def test_a_config_selects_the_plugin_and_it_runs_on_jack(example_site, jack_server, tmp_path):
    np.savez(tmp_path / "lin.npz", W=np.zeros((64, 128), dtype=np.float32), b=logits_for(0.5, -0.25))
    name = "k-plugin"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1}\nbackend: {name: linear-npz, model: lin.npz}\nemotion: {smoothing_ms: 0}\n"
        "connect: {midi_out: ['^rec-plugin:in$']}\n",  # from the start: a constant CC is sent once
    )
    env = {**jack_server.env, "PYTHONPATH": str(example_site)}
    rec = MidiRecorder(jack_server, "rec-plugin")
    kelly = Kelly(jack_server, cfg, env=env)
    try:
        assert "backend linear-npz" in kelly.wait_ready()
        assert wait_until(lambda: rec.cc(20) and rec.cc(20)[-1][1] == 95, 10)
        rc, out, err = kelly.stop()
    finally:
        kelly.stop()  # a failed check must not leave it running
        rec.close()
    assert rc == 0, err


def test_installed_generator_is_listed_and_plays(example_site):
    listed = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "generators"], env=kelly_env(example_site), capture_output=True, text=True
    )
    line = next(row for row in listed.stdout.splitlines() if row.startswith("pulse"))
    assert "kelly-jack-example-generator" in line and "0.1.0" in line
    assert any(row.startswith("harmony") for row in listed.stdout.splitlines())
    # two seconds at 120 bpm through the real runner and scheduler: 4 beats, each a hi-hat, the bar line a kick too
    script = """
from kelly_jack.midi.factory import create_generator
from kelly_jack.midi.runner import GeneratorRunner
from kelly_jack.midi.scheduler import EventScheduler
from kelly_jack.plugins import load_plugins
from kelly_jack.rt import midi_events
hdr, data = midi_events.new_events(1024)
sched = EventScheduler(hdr, data)
runner = GeneratorRunner([create_generator("pulse", {"channel": 10}, load_plugins())], sched, 48000, 0, 1000)
for t in range(999, 96000, 1000):
    runner.after_result(t, 0.5, 0.0)
runner.stop(97000)
notes, last = [], 0
while (e := midi_events.take_due(hdr, data, 0, 1 << 40, last))[0] >= 0:
    last = e[0]
    if midi_events.message_byte(e[1], 0) == 0x99:
        notes.append((int(e[0]), int(midi_events.message_byte(e[1], 1))))
print(notes)
"""
    run = subprocess.run(
        [sys.executable, "-c", script], env=kelly_env(example_site), capture_output=True, text=True, check=True
    )
    notes = eval(run.stdout)  # noqa: S307 - our own script's repr of a list of tuples
    assert [n for _, n in notes].count(42) == 4 and [n for _, n in notes].count(36) == 1
    assert [f for f, n in notes if n == 42] == [1000, 25000, 49000, 73000]  # beat 0 is the first output frame
