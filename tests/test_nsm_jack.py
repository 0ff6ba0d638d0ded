"""kelly under a session manager, on a real jackd: the tests' own NSM server (tests/support/nsm_server.py) drives
the real ``kelly-jack`` process through announce, open, save, dirty/clean, a refused switch and SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import numpy as np
import pytest
import yaml

from support.cfunc_clients import Player
from support.jackd import ROOT, JackServer, Kelly, wait_until, write_config
from support.nsm_server import NsmServer

pytestmark = pytest.mark.jack

MODEL = ROOT / "models" / "emotion.rtneural.json"
SIGTERM_BOUND_S = 5.0  # generous on a loaded 2-core VM; SIGTERM to exit measured 0.07-0.14 s here
OPEN_S = 300.0  # a wait, not a timing: with a cold Numba cache the first open compiles (minutes on a loaded VM)


def kelly_ports(probe, client_id: str) -> set[str]:
    return {p.name.split(":", 1)[1] for p in probe.get_ports() if p.name.startswith(client_id + ":")}


def test_kelly_as_an_nsm_client(tmp_path, jack_server):
    nsm = NsmServer()
    probe = jack_server.client("nsmprobe")
    player = Player(jack_server, np.zeros(4800, dtype=np.float32), "nsmpl", midi=True)
    model = os.path.relpath(MODEL, tmp_path)  # relative to the config: the state must not depend on it
    body = f"ports: {{inputs: 2}}\nconnect:\n  in_1: ['nsmpl:out']\nbackend:\n  name: rtneural\n  model: {model}\n"
    cfg = write_config(tmp_path / "k.yaml", jack_server, "kellynsm", body)
    env = {**jack_server.env, "NSM_URL": nsm.url}
    session = tmp_path / "session"
    session.mkdir()
    client_path, client_id = session / "kellynsm.nTEST", "kellynsm.nTEST"
    kelly = Kelly(jack_server, cfg, env=env)
    try:
        ann = nsm.wait_for("/nsm/server/announce", timeout=60)
        name, caps, exe, major, minor, pid = ann.args
        assert (name, exe, major, minor, pid) == ("kellynsm", "kelly-jack", 1, 1, kelly.proc.pid)
        assert caps.startswith(":") and caps.endswith(":") and {"dirty", "message"} <= set(caps.strip(":").split(":"))
        assert "switch" not in caps
        assert ann.source[0] == "127.0.0.1"  # kelly's NSM socket is on loopback

        # no JACK client before open, however long the manager takes
        time.sleep(1.0)
        assert kelly.proc.poll() is None
        assert not [p.name for p in probe.get_ports() if p.name.startswith("kellynsm")]

        nsm.open(str(client_path), "test session", client_id)
        nsm.wait_for("/reply", "/nsm/client/open", timeout=OPEN_S)
        assert kelly.wait_ready().startswith(f"kelly-jack: client '{client_id}'")
        assert {"in_1", "in_2", "midi_in", "midi_out"} <= kelly_ports(probe, client_id)

        state = yaml.safe_load((client_path / "kelly.yaml").read_text())
        assert state["backend"] == {"name": "rtneural", "model": str(MODEL.resolve())}
        assert state["client"] == {"server": jack_server.name}  # the client id is the name, not a stored one
        assert state["connect"] == {"in_1": ["nsmpl:out"]}  # kept in the state, not applied under NSM
        time.sleep(0.5)
        assert probe.get_all_connections("nsmpl:out") == []

        msg = nsm.wait_for("/nsm/client/message")
        assert msg.args[0] in (0, 1, 2, 3) and "model loaded: backend rtneural" in msg.args[1]

        # the user's valence changes through midi_in: dirty; save writes it and reports clean
        n = nsm.count()
        probe.connect("nsmpl:midi", f"{client_id}:midi_in")
        # a connection takes effect from a later cycle: an event sent at once may go nowhere; send until seen
        dirty = None
        for _ in range(20):
            player.send_midi(bytes([0xB0, 22, 127]))  # CC 22 = user valence, 127 = +1 (the same value again)
            with contextlib.suppress(AssertionError):
                dirty = nsm.wait_for("/nsm/client/is_dirty", after=n, timeout=0.5)
                break
        assert dirty is not None, "no /nsm/client/is_dirty after the valence CC"
        n = nsm.count()
        nsm.save()
        saved = nsm.wait_for("/reply", "/nsm/client/save", after=n)
        assert str(client_path / "kelly.yaml") in saved.args[1]
        nsm.wait_for("/nsm/client/is_clean", after=n)
        state = yaml.safe_load((client_path / "kelly.yaml").read_text())
        assert state["emotion"]["user_valence"] == 1.0
        assert state["backend"]["model"] == str(MODEL.resolve())  # the rest as it was

        # no :switch:: a second open is refused, the running client stays
        n = nsm.count()
        nsm.open(str(session / "kellynsm.nOTHER"), "other", "kellynsm.nOTHER")
        err = nsm.wait_for("/error", "/nsm/client/open", after=n)
        assert err.args[1] == -8  # ERR_NOT_NOW
        assert kelly.proc.poll() is None and kelly_ports(probe, client_id)

        # quit is SIGTERM: at once and cleanly
        t0 = time.monotonic()
        code, out, err_text = kelly.stop(signal.SIGTERM, timeout=30)
        took = time.monotonic() - t0
        print(f"SIGTERM to exit: {took:.3f} s")
        assert code == 0, err_text
        assert took < SIGTERM_BOUND_S
        assert "kelly-jack summary" in out
        assert "connect patterns of in_1 ignored under session management" in err_text
        assert "Traceback" not in err_text
        assert wait_until(lambda: not kelly_ports(probe, client_id), 5)

        # reopened: the session's state is used, not --config (one input now, edited by hand)
        state["ports"]["inputs"] = 1
        (client_path / "kelly.yaml").write_text(yaml.safe_dump(state))
        again = Kelly(jack_server, cfg, env=env)
        try:
            n = nsm.count()
            nsm.wait_for("/nsm/server/announce", after=n, timeout=60)
            nsm.open(str(client_path), "test session", client_id)
            nsm.wait_for("/reply", "/nsm/client/open", after=n, timeout=OPEN_S)
            ports = kelly_ports(probe, client_id)
            assert "in_1" in ports and "in_2" not in ports
            assert not (session / "kellynsm.nOTHER").exists()
        finally:
            assert again.stop(signal.SIGTERM, timeout=30)[0] == 0
    finally:
        kelly.stop(signal.SIGTERM)
        player.close()
        probe.close()
        nsm.close()


def test_nsm_messages_for_a_reload_and_a_lost_server(tmp_path):
    """SIGHUP reloads the model from the session's state; the server crashing and coming back under the same
    name is told to the session manager, and kelly registers again under its client id."""
    server = JackServer().start()
    nsm = NsmServer()
    kelly = None
    try:
        cfg = write_config(tmp_path / "k.yaml", server, "knsr", "ports: {inputs: 1}\nbackend: {name: random}\n")
        kelly = Kelly(server, cfg, env={**server.env, "NSM_URL": nsm.url})
        nsm.wait_for("/nsm/server/announce", timeout=60)
        nsm.open(str(tmp_path / "knsr.nR"), "s", "knsr.nR")
        nsm.wait_for("/reply", "/nsm/client/open", timeout=OPEN_S)
        kelly.wait_ready()

        n = nsm.count()
        kelly.proc.send_signal(signal.SIGHUP)
        reload = nsm.wait_for("/nsm/client/message", after=n, timeout=60, text="model reloaded: backend random")
        assert reload.args[0] == 1

        n = nsm.count()
        server.proc.send_signal(signal.SIGKILL)  # a crash
        server.proc.wait(5)
        lost = nsm.wait_for("/nsm/client/message", after=n, timeout=15, text="the JACK server went away")
        assert lost.args[0] == 3  # the most important priority
        server.start()
        back = nsm.wait_for("/nsm/client/message", after=n, timeout=15, text="the JACK server is back")
        assert "knsr.nR" in back.args[1]
        probe = server.client("probe2")
        assert wait_until(lambda: any(p.name == "knsr.nR:in_1" for p in probe.get_ports()), 5)
        probe.close()
        code, out, err = kelly.stop(signal.SIGTERM)
        assert code == 0, err
        assert "reconnected: client 'knsr.nR'" in out
    finally:
        if kelly is not None:
            kelly.stop(signal.SIGKILL)
        server.stop()
        nsm.close()
