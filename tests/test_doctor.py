"""kelly-jack doctor: each check against controlled inputs, then the command against a real private jackd."""

from __future__ import annotations

import grp
import os
import resource
import subprocess
import sys

import pytest

from kelly_jack.config import parse_config
from kelly_jack.engine import checks as doctor
from kelly_jack.engine.checks import FAIL, INFO, OK, WARN, ServerInfo
from kelly_jack.inference.budget import time_inference

from support.jackd import ON_PIPEWIRE, ROOT, have_jackd, have_pipewire, new_server

MODEL = ROOT / "models" / "emotion.rtneural.json"


def no_server(name):
    raise OSError(f"no server {name}")


def procs(*rows):
    return lambda: [(comm, list(argv)) for comm, *argv in rows]


# ---------------------------------------------------------------- server


def test_server_names_come_from_jackd_command_lines():
    names, pipewire = doctor.jack_servers_running(
        [("jackd", ["jackd", "-n", "studio", "-d", "alsa"]), ("jackd", ["jackd", "-d", "dummy"]), ("bash", ["bash"])]
    )
    assert names == ["default", "studio"] and not pipewire
    assert doctor.jack_servers_running([("pipewire", ["pipewire"])]) == ([], True)


JACK2_LIB = "/usr/lib/x86_64-linux-gnu/libjack.so.0.1.0"
PW_LIB = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack/libjack.so.0"


def test_no_server_fails_and_says_how_to_start_one():
    r, info = doctor.check_server("nowhere", "--server", no_server, procs(), lambda: JACK2_LIB)
    assert info is None and r.status == FAIL
    assert "'nowhere' (from --server)" in r.found and "through jackd2's libjack" in r.found
    assert "jackd -d alsa" in r.fix and "pw-jack" in r.fix


def test_a_jackd_under_another_name_is_named():
    r, _ = doctor.check_server(None, "default", no_server, procs(("jackd", "jackd", "-n", "studio")), lambda: JACK2_LIB)
    assert r.status == FAIL and "'studio'" in r.found and r.fix.startswith("choose a running jackd with --server")
    assert r.fix.endswith(doctor.START_SERVER)


def test_pipewire_without_its_libjack_says_pw_jack():
    running = procs(("pipewire", "pipewire"), ("jackd", "jackd", "-n", "x"))
    r, _ = doctor.check_server(None, "default", no_server, running, lambda: JACK2_LIB)
    assert r.status == FAIL and "a pipewire process running" in r.found
    assert r.fix.startswith("for PipeWire, start kelly-jack as `pw-jack kelly-jack`") and "(x)" in r.fix
    assert "jackd -d alsa" in r.fix


def test_pipewire_libjack_without_pipewire_says_start_it():
    r, _ = doctor.check_server(None, "default", no_server, procs(), lambda: PW_LIB)
    assert r.status == FAIL and "through PipeWire's libjack" in r.found
    assert r.fix.startswith("start PipeWire for this user (`systemctl --user start pipewire`") and "jackd" not in r.fix
    r, _ = doctor.check_server(None, "default", no_server, procs(("jackd", "jackd")), lambda: PW_LIB)
    assert r.fix.endswith("or run kelly-jack without pw-jack to reach jackd (default)")


def test_a_running_server_is_reported_with_rate_and_period():
    jack2 = ServerInfo("JACK2", "libjack.so.0 1.9.21", 44100, 256, realtime=False)
    r, info = doctor.check_server("studio", "client.server", probe=lambda name: jack2, processes=procs())
    assert info is jack2 and r.status == WARN and "--no-realtime" in r.fix
    assert "JACK2 server 'studio' (from client.server): 44100 Hz, 256 frames per period, not realtime" in r.found
    pw = ServerInfo("PipeWire", "pipewire-0.3/jack/libjack.so.0", 48000, 128, realtime=False)
    r, _ = doctor.check_server(None, "default", probe=lambda name: pw, processes=procs())
    assert r.status == OK and r.found.startswith("PipeWire server 'default': 48000 Hz, 128 frames")


def test_server_name_precedence():
    cfg = parse_config("client: {server: fromcfg}\n")
    env = {"JACK_DEFAULT_SERVER": "fromenv"}
    assert doctor.resolve_server("cli", cfg, env) == ("cli", "--server")
    assert doctor.resolve_server(None, cfg, env) == ("fromcfg", "client.server")
    assert doctor.resolve_server(None, parse_config(""), env) == ("fromenv", "$JACK_DEFAULT_SERVER")
    assert doctor.resolve_server(None, parse_config(""), {}) == (None, "default")


def test_period_from_the_server_or_the_stated_default():
    assert doctor.check_period(None).status == INFO
    assert "assuming 128 frames at 48000 Hz = 2.67 ms" in doctor.check_period(None).found
    r = doctor.check_period(ServerInfo("JACK2", "", 44100, 256, True))
    assert r.status == OK and r.found == "256 frames at 44100 Hz = 5.80 ms"
    assert doctor.check_period(ServerInfo("JACK2", "", 48000, 4096, True)).status == WARN


# ---------------------------------------------------------------- limits


def test_limits_files_are_read_without_comments_or_disabled_files(tmp_path):
    (tmp_path / "limits.d").mkdir()
    (tmp_path / "limits.conf").write_text("# @audio - rtprio 99\n*  soft  core  0\n")
    (tmp_path / "limits.d" / "audio.conf").write_text("@audio   -  rtprio     95\n@audio - memlock unlimited # jack\n")
    (tmp_path / "limits.d" / "old.conf.disabled").write_text("@audio - rtprio 50\n")
    lines = doctor.limit_lines(tmp_path)
    audio = f"{tmp_path}/limits.d/audio.conf"
    assert lines == [f"{audio}: @audio - rtprio 95", f"{audio}: @audio - memlock unlimited"]


def test_group_membership():
    db = {"audio": grp.struct_group(("audio", "x", 29, ["ann"]))}
    assert doctor.group_state("audio", "ann", [1000, 29], db.__getitem__) == "member"
    assert doctor.group_state("audio", "ann", [1000], db.__getitem__) == "listed"
    assert doctor.group_state("audio", "bob", [1000], db.__getitem__) == "no"
    assert doctor.group_state("audio", "bob", [1000], {}.__getitem__) == "none"


def test_granting_groups_audio_first():
    lines = ["f: @pipewire - rtprio 95", "f: @audio - rtprio 95", "f: @audio - memlock unlimited", "f: ann - rtprio 9"]
    assert doctor.granting_groups(lines) == ["audio", "pipewire"]


def test_rtprio():
    audio = ["/etc/security/limits.d/audio.conf: @audio - rtprio 95"]
    pw = ["/etc/security/limits.d/95-pipewire.conf: @pipewire - rtprio 95"]
    r = doctor.check_rtprio((95, 95), 1000, lambda g: "member", audio)
    assert r.status == OK and "rtprio granted to @audio (you: member)" in r.found
    r = doctor.check_rtprio((0, 0), 1000, lambda g: "no", [])
    assert r.status == FAIL and "limits.d/audio.conf" in r.fix and "usermod -aG audio" in r.fix
    assert "no rtprio line for a group" in r.found and "(audio group, you: no)" in r.found
    r = doctor.check_rtprio((0, 0), 1000, lambda g: "listed", audio)
    assert r.status == FAIL and "log out and in" in r.fix
    r = doctor.check_rtprio((0, 0), 1000, lambda g: "no", pw)
    assert r.status == FAIL and r.fix.startswith("`sudo usermod -aG pipewire $USER`")
    r = doctor.check_rtprio((0, 0), 1000, {"audio": "member", "pipewire": "no"}.get, audio + pw)
    assert r.status == FAIL and "pam_limits" in r.fix and "@pipewire (you: no)" in r.found
    assert doctor.check_rtprio((0, 0), 1000, lambda g: "no", [], pipewire=True).status == WARN
    assert doctor.check_rtprio((5, 5), 1000, lambda g: "member", audio).status == WARN
    assert doctor.check_rtprio((0, 0), 0, lambda g: "no", []).status == INFO  # root


def test_memlock():
    assert doctor.check_memlock((resource.RLIM_INFINITY, resource.RLIM_INFINITY)).status == OK
    r = doctor.check_memlock((8192 * 1024, 8192 * 1024))
    assert r.status == WARN and "8192 KiB" in r.found and "memlock unlimited" in r.fix


# ---------------------------------------------------------------- CPU and caches


def fake_cpus(root, *governors):
    for i, g in enumerate(governors):
        d = root / f"cpu{i}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(g + "\n")
    (root / "cpuidle").mkdir(exist_ok=True)
    return root


def test_governor(tmp_path):
    r = doctor.check_governor(tmp_path)
    assert r.status == INFO and "no cpufreq" in r.found and "VM" in r.found
    assert doctor.check_governor(fake_cpus(tmp_path / "a", "performance", "performance")).status == OK
    r = doctor.check_governor(fake_cpus(tmp_path / "b", "performance", "powersave", "powersave"))
    assert r.status == WARN and "performance on 1 of 3 CPUs" in r.found and "powersave on 2 of 3" in r.found
    assert "cpupower frequency-set -g performance" in r.fix


def test_numba_cache_dir_that_cannot_be_made_warns(tmp_path):
    (tmp_path / "file").write_text("")  # a folder under a file cannot be made, not even by root
    r = doctor.check_numba_cache({"NUMBA_CACHE_DIR": str(tmp_path / "file" / "cache")}, tmp_path, False)
    assert r.status == WARN and "not writable" in r.found and "NUMBA_CACHE_DIR" in r.found
    assert "export NUMBA_CACHE_DIR=" in r.fix


def test_numba_cache_in_a_package_with_an_unwritable_pycache(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "rt").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rt" / "kernels.py").write_text("")
    assert doctor.check_numba_cache({}, pkg, False).status == OK
    (pkg / "rt" / "__pycache__").rmdir()
    (pkg / "rt" / "__pycache__").write_text("")  # a file where the cache folder should be
    r = doctor.check_numba_cache({}, pkg, False)
    assert r.status == WARN and "rt/__pycache__" in r.found


def test_numba_cache_counts_kernels_and_names_the_user_cache(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "k.f-3.py311.nbi").write_text("")
    r = doctor.check_numba_cache({"NUMBA_CACHE_DIR": str(tmp_path)}, tmp_path, True)
    assert r.status == OK and "read-only: the user cache" in r.found and "1 kernels cached so far" in r.found


# ---------------------------------------------------------------- the model


def test_model_loads_and_a_bad_model_is_one_line(tmp_path):
    cfg = parse_config(f"backend: {{name: rtneural, model: {MODEL}}}\n")
    r, backend = doctor.check_model(cfg)
    assert r.status == OK and backend is not None and "'rtneural'" in r.found
    assert time_inference(backend, 5) > 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": [')
    path = tmp_path / "k.yaml"
    path.write_text(f"backend:\n  name: rtneural\n  model: {bad}\n")
    from kelly_jack.config import load_config

    r, backend = doctor.check_model(load_config(path))
    assert backend is None and r.status == FAIL and "\n" not in r.found
    assert r.found.startswith(f"{path}:3: ") and "bad.json" in r.found


def test_a_broken_plugin_is_a_warning_next_to_the_model():
    cfg = parse_config("plugins: {modules: [plugin_modules.raising_plugin]}\nbackend: {name: heuristic}\n")
    r, backend = doctor.check_model(cfg)
    assert backend is not None and r.status == WARN and "plugin_modules.raising_plugin" in r.found
    assert "\n" not in r.found


def test_inference_time_against_period_and_budget():
    srv = ServerInfo("JACK2", "", 48000, 256, True)  # 5.33 ms
    r = doctor.check_inference(0.001, 50, srv, 1024)
    assert r.status == OK
    assert "1.000 ms (median of 50) = 18.8% of a period (256 frames at 48000 Hz = 5.33 ms, server)" in r.found
    assert doctor.check_inference(0.010, 50, srv, 1024).status == WARN  # budget 21.3 ms
    r = doctor.check_inference(0.030, 50, None, 1024)
    assert r.status == FAIL and "(128 frames at 48000 Hz = 2.67 ms, assumed)" in r.found
    assert "latency.inference_budget to at least 46ms" in r.fix


# ---------------------------------------------------------------- the command


def doctor_cmd(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "kelly_jack", "doctor", "--runs", "10", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def odd_server():
    """A private jackd (pipewire in the PipeWire leg) at 44100 Hz, 256 frames: numbers the doctor cannot guess."""
    if not (have_pipewire() if ON_PIPEWIRE else have_jackd()):
        pytest.fail("jackd or pipewire is not installed: scripts/setup installs jackd2 and pipewire-jack")
    server = new_server(rate=44100, period=256).start()
    yield server
    server.stop()


@pytest.mark.jack
@pytest.mark.pipewire
def test_doctor_finds_the_private_jackd(odd_server, tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text(f"backend: {{name: rtneural, model: {MODEL}}}\n")
    env = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"}
    out = doctor_cmd("--config", str(cfg), "--server", odd_server.name, env=env)
    lines = out.stdout.splitlines()
    server = next(line for line in lines if " server: " in line)
    kind = "PipeWire" if ON_PIPEWIRE else "JACK2"
    assert f"{kind} server '{odd_server.name}' (from --server): 44100 Hz, 256 frames per period" in server
    if ON_PIPEWIRE:
        # found through PipeWire's libjack (pw-jack), which reports its clients as realtime whatever the
        # daemon got (the test daemon runs without module-rt): the doctor takes it at its word
        assert server.startswith("OK") and "/pipewire-0.3/jack/libjack.so" in server and "PipeWire 0." in server
    else:
        assert server.startswith("WARN") and "not realtime" in server  # the test server runs --no-realtime
    assert "OK    period: 256 frames at 44100 Hz = 5.80 ms" in lines
    inference = next(line for line in lines if "inference:" in line)
    assert "(256 frames at 44100 Hz = 5.80 ms, server)" in inference
    assert any(line.startswith("OK    model: backend 'rtneural' loaded") for line in lines)
    assert out.returncode == (1 if any(line.startswith("FAIL") for line in lines) else 0), out.stdout + out.stderr
    assert out.stderr == "", out.stderr  # libjack's chatter stays off the terminal


def test_doctor_without_a_server_fails_and_says_how_to_start_one(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    cfg = tmp_path / "k.yaml"
    cfg.write_text(f"backend: {{name: rtneural, model: {bad}}}\n")
    name = f"kelly-nobody-{os.getpid()}"  # no server has this name: nothing else is touched
    out = doctor_cmd("--config", str(cfg), env={**os.environ, "JACK_DEFAULT_SERVER": name})
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("FAIL  server: "))
    assert f"no JACK server '{name}' (from $JACK_DEFAULT_SERVER) answered" in lines[i]
    assert lines[i + 1].startswith("      -> ") and "jackd -d alsa -r 48000 -p 128" in lines[i + 1]
    assert "INFO  period: no server: assuming 128 frames at 48000 Hz = 2.67 ms" in lines
    assert any(line.startswith(f"FAIL  model: {cfg}:1: ") for line in lines)
    assert not any("inference:" in line for line in lines)
