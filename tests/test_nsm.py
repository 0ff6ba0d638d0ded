"""The NSM client without JACK: the message grammar, the state file, and the kelly process's answers to
failures (a bad state file, a refused announce, SIGTERM while waiting for open, an unusable NSM_URL)."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
import yaml

from kelly_jack.config import ConfigError, load_config
from kelly_jack.nsm import protocol as p
from kelly_jack.nsm.client import executable_name
from kelly_jack.nsm.state import SessionState

from support.jackd import ROOT
from support.nsm_server import NsmServer, osc_decode, osc_encode


# --- the message grammar -------------------------------------------------------------------------
def test_encode_matches_the_wire_format():
    data = p.encode(p.ANNOUNCE, "kelly", ":dirty:message:", "kelly-jack", 1, 1, 4242)
    assert data == osc_encode(p.ANNOUNCE, "kelly", ":dirty:message:", "kelly-jack", 1, 1, 4242)
    assert osc_decode(p.encode(p.MESSAGE, 3, "server lost")) == (p.MESSAGE, (3, "server lost"))
    assert osc_decode(p.encode(p.IS_DIRTY)) == (p.IS_DIRTY, ())


def test_decode_and_check_the_documented_messages():
    m = p.check(p.decode(osc_encode(p.OPEN, "/s/kelly.nA", "song", "kelly.nA")))
    assert m == p.Message(p.OPEN, ("/s/kelly.nA", "song", "kelly.nA"))
    assert p.check(p.decode(osc_encode(p.SAVE))).args == ()
    err = p.check(p.decode(osc_encode(p.ERROR, p.ANNOUNCE, -2, "too new")))
    assert err.args == (p.ANNOUNCE, -2, "too new")
    with pytest.raises(p.ProtocolError, match=r"/nsm/client/open: expected arguments \(s,s,s\), got \(str,int\)"):
        p.check(p.decode(osc_encode(p.OPEN, "/s", 3)))
    with pytest.raises(p.ProtocolError, match="expected arguments"):
        p.check(p.decode(osc_encode(p.ERROR, p.SAVE, "not a code", "x")))
    with pytest.raises(p.ProtocolError, match="not an OSC message"):
        p.decode(b"#bundle\0" + bytes(8))
    with pytest.raises(p.ProtocolError, match="malformed"):
        p.decode(b"/nsm/client/open\0\0\0\0,sss\0\0\0\0/pa")  # cut in the middle of the first string
    assert p.error_name(-8) == "ERR_NOT_NOW" and p.error_name(-10) == "ERR_CREATE_FAILED"


@pytest.mark.parametrize(
    "url, expected",
    [("osc.udp://localhost:11287/", ("localhost", 11287)), ("osc.udp://127.0.0.1:9/", ("127.0.0.1", 9))],
)
def test_parse_url(url, expected):
    assert p.parse_url(url) == expected


@pytest.mark.parametrize("url", ["", "nonsense", "osc.tcp://localhost:1/", "osc.udp://localhost/", "osc.udp://h:x/"])
def test_parse_url_refuses(url):
    with pytest.raises(p.ProtocolError, match="NSM_URL"):
        p.parse_url(url)


def test_executable_name():
    assert executable_name("/usr/local/bin/kelly-jack") == "kelly-jack"
    assert executable_name("/x/kelly_jack/__main__.py") == "kelly-jack"  # python -m kelly_jack
    assert executable_name("/home/me/bin/my-kelly") == "my-kelly"  # a symlink keeps its own name


# --- the state file ------------------------------------------------------------------------------
def test_state_is_a_config_with_an_absolute_model_path(tmp_path):
    (tmp_path / "conf").mkdir()
    src = tmp_path / "conf" / "k.yaml"
    model = os.path.relpath(ROOT / "models" / "emotion.rtneural.json", src.parent)
    src.write_text(f"client: {{name: kk, server: s1}}\nbackend: {{name: rtneural, model: {model}}}\n")
    state = SessionState(tmp_path / "session" / "kk.nA")
    state.create(load_config(src), "kk.nA")
    raw = yaml.safe_load(state.file.read_text())
    absolute = str((ROOT / "models" / "emotion.rtneural.json").resolve())
    assert raw == {"client": {"server": "s1"}, "backend": {"name": "rtneural", "model": absolute}}
    cfg = state.load()
    assert cfg["client"]["server"] == "s1" and cfg["_source"]["path"] == str(state.file)
    assert not [f for f in state.file.parent.iterdir() if f.name != "kelly.yaml"]  # no temp file left


def test_state_from_defaults_and_save_keeps_hand_edits(tmp_path):
    from kelly_jack.config import parse_config

    state = SessionState(tmp_path / "kelly.nB")
    state.create(parse_config("", "<defaults>"), "kelly.nB")
    assert yaml.safe_load(state.file.read_text()) is None or yaml.safe_load(state.file.read_text()) == {}
    state.file.write_text("ports: {inputs: 1}\nemotion: {smoothing_ms: 40}\n")  # edited by hand
    state.save((np.float64(0.25), -0.5, np.float32(0.75), np.bool_(False)), "kelly.nB")  # as read from the state
    cfg = state.load()
    assert cfg["ports"]["inputs"] == 1 and cfg["emotion"]["smoothing_ms"] == 40.0
    e = cfg["emotion"]
    assert (e["user_valence"], e["user_arousal"], e["blend"], e["ml_enabled"]) == (0.25, -0.5, 0.75, False)
    state.file.unlink()  # deleted behind kelly's back: the next save writes what was loaded again
    state.save((0.5, 0.5, 1.0, True), "kelly.nB")
    again = state.load()
    assert again["ports"]["inputs"] == 1 and again["emotion"]["user_valence"] == 0.5


def test_save_never_leaves_a_half_written_state(tmp_path, monkeypatch):
    state = SessionState(tmp_path / "kelly.nC")
    state.folder.mkdir()
    state.file.write_text("ports: {inputs: 1}\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        state.save((1.0, 1.0, 1.0, True), "kelly.nC")
    assert state.file.read_text() == "ports: {inputs: 1}\n"
    assert [f.name for f in state.folder.iterdir()] == ["kelly.yaml"]


def test_a_broken_state_is_a_config_error_naming_the_file(tmp_path):
    state = SessionState(tmp_path)
    state.file.write_text("ports:\n  inputs: many\n")
    with pytest.raises(ConfigError, match=r"kelly\.yaml:2: ports\.inputs: must be an integer"):
        state.load()


# --- the kelly process facing a session manager (no JACK server is needed for these) -------------
def start_kelly(tmp_path, url: str) -> subprocess.Popen:
    cfg = tmp_path / "k.yaml"
    cfg.write_text("client: {name: knsm, server: kelly-no-such-server}\n")
    env = {**os.environ, "NSM_URL": url}
    cmd = [sys.executable, "-m", "kelly_jack", "--config", str(cfg)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_a_bad_state_file_is_answered_with_err_bad_project(tmp_path):
    nsm = NsmServer()
    client_path = tmp_path / "knsm.nBAD"
    client_path.mkdir()
    (client_path / "kelly.yaml").write_text("ports:\n  inputs: many\n")
    proc = start_kelly(tmp_path, nsm.url)
    try:
        nsm.wait_for(p.ANNOUNCE, timeout=60)
        nsm.open(str(client_path), "s", "knsm.nBAD")
        err = nsm.wait_for(p.ERROR, p.OPEN, timeout=30)
        assert err.args[1] == p.ERR_BAD_PROJECT and "kelly.yaml:2: ports.inputs" in err.args[2]
        out, errs = proc.communicate(timeout=30)
        assert proc.returncode == 2
        lines = errs.strip().splitlines()
        assert len(lines) == 1 and "kelly.yaml:2: ports.inputs: must be an integer" in lines[0], errs
        assert (client_path / "kelly.yaml").read_text() == "ports:\n  inputs: many\n"  # not overwritten
    finally:
        proc.kill()
        nsm.close()


def test_sigterm_while_waiting_for_open_exits_at_once(tmp_path):
    nsm = NsmServer()
    proc = start_kelly(tmp_path, nsm.url)
    try:
        nsm.wait_for(p.ANNOUNCE, timeout=60)
        nsm.save()  # before open: nothing to save yet
        assert nsm.wait_for(p.ERROR, p.SAVE).args[1] == p.ERR_NO_SESSION_OPEN
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, errs = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 2.0
        assert proc.returncode == 0
        assert errs.strip() == "kelly-jack: stopped before the session opened"
    finally:
        proc.kill()
        nsm.close()


def test_a_refused_announce_is_one_line_and_exit_1(tmp_path):
    nsm = NsmServer(refuse=(p.ERR_INCOMPATIBLE_API, "API 1.1 is too new for this server"))
    proc = start_kelly(tmp_path, nsm.url)
    try:
        out, errs = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert errs.strip() == (
            "kelly-jack: the session manager refused kelly: API 1.1 is too new for this server (ERR_INCOMPATIBLE_API)"
        )
    finally:
        proc.kill()
        nsm.close()


def test_an_unusable_nsm_url_means_no_session_management(tmp_path):
    proc = start_kelly(tmp_path, "osc.tcp://localhost:1/")
    out, errs = proc.communicate(timeout=60)
    lines = errs.strip().splitlines()
    assert "only UDP" in lines[0] and "running without session management" in lines[0]
    assert proc.returncode == 3 and "kelly-no-such-server" in lines[-1]  # then it went on as usual: no server


# --- the launcher entry session managers look for ------------------------------------------------
def test_desktop_file_is_valid_and_nsm_capable():
    desktop = ROOT / "config" / "kelly-jack.desktop"
    run = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)  # scripts/setup
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(desktop)
    e = entry["Desktop Entry"]
    assert e["X-NSM-Capable"] == "true"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert e["X-NSM-Exec"] in scripts and e["Exec"].split()[0] in scripts  # the installed command's name
