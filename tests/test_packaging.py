"""``pip install .`` from a clean copy of the sources gives a working ``kelly-jack``, also from a read-only install.

The package is built by pip (its own isolated build, setuptools from PyPI) and
installed with --no-deps into a folder of its own; the dependencies are the
test venv's. PYTHONPATH puts that folder first, and each run checks it used it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from jackd import ROOT

import kelly_jack

SOURCES = ("pyproject.toml", "README.md", "kelly_jack")


@pytest.fixture(scope="module")
def installed():
    """(target folder, scratch folder): a clean source copy pip-installed into target; world-readable folders
    (not pytest's private tmp) so an unprivileged user can run it when the tests run as root."""
    scratch = Path(tempfile.mkdtemp(prefix="kelly-pkg-"))
    scratch.chmod(0o755)
    src, target = scratch / "src", scratch / "site"
    src.mkdir()
    for name in SOURCES:  # what a clean checkout has: no caches, no egg-info, no venv
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
        check=True,
        capture_output=True,
    )
    yield target, scratch
    for d, _, _ in os.walk(scratch):
        os.chmod(d, 0o755)
    shutil.rmtree(scratch)


def run(target: Path, *args: str, env: dict[str, str] | None = None, user: list[str] = ()):
    env = {**(env or os.environ), "PYTHONPATH": str(target)}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.run(
        [*user, sys.executable, "-c", "import sys, kelly_jack.cli as c; print(c.__file__); sys.exit(c.main())", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=300,
    )


def test_installed_package_has_the_command_and_works(installed):
    target, _ = installed
    script = target / "bin" / "kelly-jack"
    assert script.is_file() and "kelly_jack.cli" in script.read_text()
    out = run(target, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == str(target / "kelly_jack" / "cli.py")  # the installed copy, not the repo
    assert "kelly-jack doctor" in out.stdout
    out = run(target, "backends")
    assert out.returncode == 0, out.stderr
    assert {"rtneural", "onnx", "heuristic"} <= {line.split()[0] for line in out.stdout.splitlines()[1:] if line}
    # the console script itself, as pip wrote it
    out = subprocess.run(
        [str(script), "--version"], env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"kelly-jack {kelly_jack.__version__}", out.stderr


def test_read_only_install_caches_numba_kernels_in_the_user_cache(installed):
    target, scratch = installed
    for d, _, files in os.walk(target / "kelly_jack"):  # read-only, as a system site-packages is
        os.chmod(d, 0o555)
        for f in files:
            os.chmod(os.path.join(d, f), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    home = scratch / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    xdg = home / "xdg-cache"
    shutil.copy(ROOT / "models" / "emotion.rtneural.json", scratch / "model.json")
    cfg = scratch / "k.yaml"
    cfg.write_text(f"backend: {{name: rtneural, model: {scratch / 'model.json'}}}\n")
    # root writes through chmod: run as nobody then, so the folder really is read-only for the run
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(xdg), "JACK_DEFAULT_SERVER": "kelly-pkg-none"}
    out = run(target, "doctor", "--config", str(cfg), "--runs", "3", env=env, user=user)
    assert out.stdout.splitlines()[0] == str(target / "kelly_jack" / "cli.py"), out.stderr
    cache = xdg / "kelly-jack" / "numba"
    line = next(line for line in out.stdout.splitlines() if "numba cache:" in line)
    assert line.startswith(f"OK    numba cache: Numba cache in {cache} (the package folder is read-only"), line
    assert "OK    model: backend 'rtneural' loaded" in out.stdout, out.stdout + out.stderr
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))  # the rtneural kernels' cache
    assert not list((target / "kelly_jack").rglob("*.nbi"))


@pytest.fixture
def numba_config(monkeypatch):
    """numba's CACHE_DIR, restored after the test (numba is imported already: the redirect must reach it too)."""
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)
    monkeypatch.setattr(kelly_jack, "numba_cache_redirected", False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    return config


def test_cache_redirect_only_for_a_read_only_package(monkeypatch, numba_config, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    kelly_jack._numba_cache_dir()  # the package folder of the test venv is writable: nothing changes
    assert "NUMBA_CACHE_DIR" not in os.environ and not kelly_jack.numba_cache_redirected
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    kelly_jack._numba_cache_dir()
    expected = str(tmp_path / "xdg" / "kelly-jack" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == expected and numba_config.CACHE_DIR == expected
    assert kelly_jack.numba_cache_redirected


def test_cache_redirect_defaults_to_home_and_respects_numba_cache_dir(monkeypatch, numba_config, tmp_path):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    kelly_jack._numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / ".cache" / "kelly-jack" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    monkeypatch.setattr(numba_config, "CACHE_DIR", "/somewhere/else")
    kelly_jack._numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else" and numba_config.CACHE_DIR == "/somewhere/else"


def test_systemd_unit_runs_the_installed_command_with_options_it_takes():
    import configparser
    import shlex
    import tomllib

    from kelly_jack.cli import build_parser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(ROOT / "config" / "kelly-jack.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure" and "pipewire.service" in unit["Unit"]["After"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID" and service["KillSignal"] == "SIGTERM"
    command, *args = shlex.split(service["ExecStart"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command == "%h/.local/bin/kelly-jack" and "kelly-jack" in scripts
    assert build_parser().parse_args(args).config == "%h/.config/kelly-jack/studio.yaml"
    assert unit["Install"]["WantedBy"] == "default.target"
