"""The plugin system: built-ins as plugins, config modules, entry points, broken plugins, the example package."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from jackd import ROOT, Kelly, MidiRecorder, wait_until, write_config

from kelly_jack.plugins import load_plugins
from kelly_jack.rt.emotion import logits_for

EXAMPLE = ROOT / "plugins" / "kelly-jack-example-backend"


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
    """The example plugin pip-installed into a folder of its own (not into the test venv)."""
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
def test_a_config_selects_the_plugin_and_it_runs_on_jack(example_site, jack_server, tmp_path):
    np.savez(tmp_path / "lin.npz", W=np.zeros((64, 128), dtype=np.float32), b=logits_for(0.5, -0.25))
    name = "k-plugin"
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        name,
        "ports: {inputs: 1}\nbackend: {name: linear-npz, model: lin.npz}\nemotion: {smoothing_ms: 0}\n",
    )
    env = {**jack_server.env, "PYTHONPATH": str(example_site)}
    kelly = Kelly(jack_server, cfg, env=env)
    rec = MidiRecorder(jack_server, "rec-plugin")
    try:
        assert "backend linear-npz" in kelly.wait_ready()
        rec.client.connect(f"{name}:midi_out", rec.port)
        assert wait_until(lambda: rec.cc(20) and rec.cc(20)[-1][1] == 95, 10)
        rc, out, err = kelly.stop()
    finally:
        rec.close()
    assert rc == 0, err
