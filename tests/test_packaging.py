"""The wheel as users get it: built from a clean copy of the sources, installed into a fresh venv outside the
checkout, run from a folder with no repository in it, also read-only and as another user.

The wheel is built by pip (``pip wheel --no-deps``; with an isolated build, setuptools>=77 comes from PyPI
or pip's cache, unless the test venv's own setuptools is new enough, then ``--no-build-isolation``). The
fresh venv (``python -m venv --without-pip``) gets the wheel through ``pip --python``; its dependencies
(numba, numpy, onnxruntime, ...) are the test venv's site-packages, named in a ``.pth`` file of the new
venv rather than downloaded. As root, the read-only check runs as ``nobody``: when ``nobody`` cannot
reach the test venv (a checkout under a 0700 folder, as ``mktemp -d`` makes), the new venv is made from
an interpreter ``nobody`` can run and the dependencies are hard-linked (else copied) into the test's
world-readable scratch folder; when even that is not possible the check skips, saying why.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

import kelly_jack

from support.jackd import ROOT

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "kelly_jack", "models")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
AS_ROOT = os.geteuid() == 0


class Installed:
    """The built wheel, the fresh venv it is installed in, and a scratch folder with no repository in it."""

    def __init__(self, scratch: Path, wheel: Path, venv: Path, why_not_nobody: str):
        self.scratch, self.wheel, self.venv = scratch, wheel, venv
        self.python = venv / "bin" / "python"
        self.script = venv / "bin" / "kelly-jack"
        self.package = Path(self.run_python("import kelly_jack; print(kelly_jack.__file__)").strip()).parent
        self.why_not_nobody = why_not_nobody  # "" when nobody can run the venv (as root)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        return {**env, "JACK_DEFAULT_SERVER": "kelly-pkg-none", **extra}

    def run_python(self, code: str) -> str:
        run = [str(self.python), "-c", code]  # not in the checkout: "" on sys.path would import its kelly_jack
        return subprocess.run(run, check=True, capture_output=True, text=True, env=self.env(), cwd=self.scratch).stdout

    def kelly(self, *args: str, cwd: Path, env: dict[str, str] | None = None, user: list[str] = ()):
        """``kelly-jack ARGS`` through the console script pip wrote, in ``cwd``."""
        return subprocess.run(
            [*user, str(self.script), *args],
            env=env or self.env(),
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=600,
        )


def _nobody_runs(python: Path | str, code: str = "pass") -> str:
    """ "" if ``nobody`` can run ``python -c code``, else why not (one line)."""
    r = subprocess.run([*NOBODY, str(python), "-I", "-c", code], capture_output=True, text=True, cwd="/")
    return "" if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]


def _base_python() -> tuple[str, str]:
    """(an interpreter of the test venv's Python version for the fresh venv, why nobody cannot run it or "").

    Not root: the test venv's base interpreter. As root, the first of it and the system's python3.X that
    ``nobody`` can run (the base interpreter may sit under /root or a 0700 checkout)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys._base_executable, shutil.which(f"python{version}") or "", f"/usr/bin/python{version}"]
    candidates = [c for c in dict.fromkeys(candidates) if c and os.access(c, os.X_OK)]
    if not AS_ROOT:
        return candidates[0], ""
    why = {}
    for c in candidates:
        why[c] = _nobody_runs(c, f"import sys; assert sys.version_info[:2] == {sys.version_info[:2]}")
        if not why[c]:
            return c, ""
    return candidates[0], "nobody can run no Python " + version + ": " + "; ".join(f"{c}: {w}" for c, w in why.items())


def _dependencies(scratch: Path) -> tuple[Path, str]:
    """(the folder of the dependencies the fresh venv uses, why nobody cannot read it or "").

    The test venv's site-packages; as root, when ``nobody`` cannot reach it (a checkout under a 0700 folder),
    a hard-linked (else copied) copy of it in ``scratch``, without this package's editable install."""
    deps = Path(sysconfig.get_paths()["purelib"])

    def nobody_reads(folder: Path) -> bool:
        return subprocess.run([*NOBODY, "test", "-r", str(folder / "numpy" / "__init__.py")], cwd="/").returncode == 0

    if not AS_ROOT or nobody_reads(deps):
        return deps, ""
    copy = scratch / "deps"
    if subprocess.run(["cp", "-al", str(deps), str(copy)], capture_output=True).returncode != 0:  # another fs
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(deps, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.iterdir():
        if path.name.startswith(("kelly_jack", "__editable__")):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for d, _, _ in os.walk(copy):
        os.chmod(d, os.stat(d).st_mode | 0o555)
    return copy, "" if nobody_reads(copy) else f"nobody cannot read {copy} either"


def _build_wheel(src: Path, dist: Path) -> Path:
    """``pip wheel`` of the clean source copy; the wheel's path."""
    isolation = (
        []
        if tuple(map(int, importlib.metadata.version("setuptools").split(".")[:2])) < (77, 0)
        else ["--no-build-isolation"]
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("kelly_jack-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed():
    """The wheel of a clean source copy installed into a fresh venv; world-readable folders (not pytest's private
    tmp) so an unprivileged user can run it when the tests run as root."""
    scratch = Path(tempfile.mkdtemp(prefix="kelly-pkg-"))
    scratch.chmod(0o755)
    src = scratch / "src"
    src.mkdir()
    for name in SOURCES:  # what a clean checkout has: no caches, no egg-info, no venv
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, src / name)
    wheel = _build_wheel(src, scratch / "dist")
    base, why_python = _base_python()
    deps, why_deps = _dependencies(scratch) if not why_python else (Path(sysconfig.get_paths()["purelib"]), "")
    venv = scratch / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "kelly_test_dependencies.pth").write_text(f"{deps}\n")  # after the venv's own site-packages
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield Installed(scratch, wheel, venv, why_python or why_deps)
    for d, _, _ in os.walk(scratch):
        os.chmod(d, 0o755)
    shutil.rmtree(scratch)


def test_wheel_carries_the_shipped_model_and_not_the_repository(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    models = sorted(p.name for p in (ROOT / "models").iterdir() if p.is_file())
    assert sorted(n.removeprefix("kelly_jack/data/models/") for n in names if "/data/" in n) == models
    assert {n.split("/")[0] for n in names} == {"kelly_jack", f"kelly_jack-{kelly_jack.__version__}.dist-info"}
    for name in models:  # byte for byte the repository's copy
        data = zipfile.ZipFile(installed.wheel).read(f"kelly_jack/data/models/{name}")
        assert data == (ROOT / "models" / name).read_bytes(), name
    assert not (ROOT / "kelly_jack" / "data").exists()  # the build copied nothing into the sources


def test_installed_package_has_the_command_and_works(installed):
    assert installed.package == installed.venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / (
        "site-packages/kelly_jack"
    )  # the installed copy, not the repository's
    script = installed.script
    assert script.is_file() and "kelly_jack.cli" in script.read_text()
    assert script.read_text().startswith(f"#!{installed.python}")
    run = installed.scratch / "run"
    run.mkdir(exist_ok=True)
    out = installed.kelly("--help", cwd=run)
    assert out.returncode == 0 and "kelly-jack doctor" in out.stdout and "kelly-jack init" in out.stdout, out.stderr
    out = installed.kelly("backends", cwd=run)
    assert out.returncode == 0, out.stderr
    assert {"rtneural", "onnx", "heuristic"} <= {line.split()[0] for line in out.stdout.splitlines()[1:] if line}
    out = installed.kelly("--version", cwd=run)
    assert out.returncode == 0 and out.stdout.strip() == f"kelly-jack {kelly_jack.__version__}", out.stderr


def test_wheel_renders_like_a_checkout_with_no_config(installed, tmp_path):
    """From a folder with no repository and no config: the shipped model and the harmony generator, the
    checkout's timeline and MIDI exactly; doctor and init work there too."""
    from kelly_jack import demo
    from kelly_jack.config import load_found_config
    from kelly_jack.engine.parts import build_engine_parts
    from kelly_jack.offline.render import render

    run = installed.scratch / "run"
    run.mkdir(exist_ok=True)
    assert not any((d / ".git").exists() or (d / "pyproject.toml").exists() for d in (run, *run.parents))
    sf.write(run / "clip.wav", demo.render(48000, 6.0), 48000, subtype="FLOAT")
    env = installed.env(XDG_CONFIG_HOME=str(run / "xdg"))
    out = installed.kelly("render", "clip.wav", "-o", "out.mid", "--csv", "out.csv", cwd=run, env=env)
    assert out.returncode == 0, out.stderr
    assert "; backend rtneural, config built-in defaults (the shipped model, the harmony generator)\n" in out.stderr
    notes = [m for m in mido.MidiFile(run / "out.mid").tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert len(notes) >= 8 and {m.channel for m in notes} == {1}  # the harmony generator, channel 2
    # the checkout, in this process: the same defaults, the same engine
    cfg = load_found_config(None, {"XDG_CONFIG_HOME": str(tmp_path / "none")})
    backend, generators = build_engine_parts(cfg)
    render(run / "clip.wav", cfg, backend, generators, tmp_path / "c.mid", csv_path=tmp_path / "c.csv")
    assert (run / "out.csv").read_text() == (tmp_path / "c.csv").read_text()
    events = [[m for m in mido.MidiFile(p).tracks[0] if not m.is_meta] for p in (run / "out.mid", tmp_path / "c.mid")]
    assert events[0] == events[1]
    timeline = np.loadtxt(run / "out.csv", delimiter=",", skiprows=1, ndmin=2)
    assert len(timeline) > 200 and np.isfinite(timeline).all()

    out = installed.kelly("doctor", "--runs", "3", cwd=run, env=env)  # no server under that name: exit 1
    assert "INFO  config: built-in defaults" in out.stdout, out.stdout + out.stderr
    shipped = installed.package / "data" / "models" / "emotion.rtneural.json"
    assert f"OK    model: backend 'rtneural' loaded from {shipped}" in out.stdout, out.stdout + out.stderr
    out = installed.kelly("init", cwd=run, env=env)
    user = run / "xdg" / "kelly-jack" / "studio.yaml"
    assert out.returncode == 0 and user.is_file(), out.stderr
    assert installed.kelly("init", cwd=run, env=env).returncode == 2  # never overwrites
    out = installed.kelly("model", "info", cwd=run, env=env)  # the user config now: model: default
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"config: {user} (the user config)\nmodel: {shipped}\n"), out.stdout


def test_read_only_install_caches_numba_kernels_in_the_user_cache(installed):
    if AS_ROOT and installed.why_not_nobody:
        pytest.skip(f"as root this check runs as nobody, who cannot run the installed venv: {installed.why_not_nobody}")
    package = installed.package
    for cached in [*package.rglob("*.nbi"), *package.rglob("*.nbc")]:  # the earlier tests' kernels: a system
        cached.unlink()  # site-packages holds none
    for d, _, files in os.walk(package):  # read-only, as a system site-packages is
        os.chmod(d, 0o555)
        for f in files:
            os.chmod(os.path.join(d, f), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    home = installed.scratch / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    xdg = home / "xdg-cache"
    # root writes through chmod: run as nobody then, so the folder really is read-only for the run
    user = NOBODY if AS_ROOT else []
    env = installed.env(HOME=str(home), XDG_CACHE_HOME=str(xdg), XDG_CONFIG_HOME=str(home / "xdg-config"))
    out = installed.kelly("doctor", "--runs", "3", cwd=home, env=env, user=user)  # no config: the shipped model
    cache = xdg / "kelly-jack" / "numba"
    lines = [line for line in out.stdout.splitlines() if "numba cache:" in line]
    assert lines, f"no numba cache line (exit {out.returncode}): {out.stdout}{out.stderr}"
    assert lines[0].startswith(f"OK    numba cache: Numba cache in {cache} (the package folder is read-only"), lines
    shipped = package / "data" / "models" / "emotion.rtneural.json"
    assert f"OK    model: backend 'rtneural' loaded from {shipped}" in out.stdout, out.stdout + out.stderr
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc"))  # the rtneural kernels' cache
    assert not list(package.rglob("*.nbi"))


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
    assert args == [] and build_parser().parse_args(args).config is None  # the config is found (README)
    assert "cp models" not in (ROOT / "config" / "kelly-jack.service").read_text()  # the model is in the package
    assert unit["Install"]["WantedBy"] == "default.target"
