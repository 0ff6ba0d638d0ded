"""OSC without JACK: the control messages' checks, the status encoding, the osc config block, the
control port's binding and bounded error reports (real UDP sockets), and the monitor's command line."""

from __future__ import annotations

import io
import math
import socket
import subprocess
import sys
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from kelly_jack.config import ConfigError, parse_config
from kelly_jack.osc import control, open_osc, snapshot
from kelly_jack.osc.addresses import OUT, STATUS
from kelly_jack.rt import shared_state

from support.jackd import ROOT


def kelly(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kelly_jack", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


@pytest.mark.parametrize(
    ("address", "params", "slot", "value"),
    [
        ("/kelly/user/valence", [-0.5], shared_state.S_USER_V, -0.5),
        ("/kelly/user/arousal", [1], shared_state.S_USER_A, 1.0),  # an int is a number too
        ("/kelly/blend", [0.0], shared_state.S_BLEND, 0.0),
        ("/kelly/ml", [False], shared_state.S_ML_ON, 0.0),
        ("/kelly/ml", [1], shared_state.S_ML_ON, 1.0),
    ],
)
def test_control_messages_set_their_slot(address, params, slot, value):
    cmd = control.parse(address, params)
    assert (cmd.kind, cmd.slot, cmd.value) == ("set", slot, value)


def test_reload_and_subscriptions():
    assert control.parse("/kelly/reload", []).kind == "reload"
    assert control.parse("/kelly/subscribe", []) == control.Command("subscribe", value=None)
    assert control.parse("/kelly/unsubscribe", [9001]) == control.Command("unsubscribe", value=9001)


BAD = [
    ("/kelly/blend", [1.5], "/kelly/blend: must be between 0 and 1, got 1.5"),
    ("/kelly/blend", ["half"], "/kelly/blend: expects a number, got 'half'"),
    ("/kelly/blend", [], "/kelly/blend: expects one number, got 0 arguments"),
    ("/kelly/user/valence", [float("nan")], "/kelly/user/valence: expects a finite number, got nan"),
    ("/kelly/user/valence", [float("inf")], "expects a finite number, got inf"),
    ("/kelly/user/arousal", [True], "expects a number, got True"),
    ("/kelly/user/arousal", [-2], "must be between -1 and 1, got -2"),
    ("/kelly/user/arousal", [0.1, 0.2], "expects one number, got 2 arguments"),
    ("/kelly/ml", [2], "/kelly/ml: expects 1 or 0 (or T/F), got 2"),
    ("/kelly/ml", ["on"], "expects 1 or 0 (or T/F), got 'on'"),
    ("/kelly/reload", [1], "/kelly/reload: takes no arguments, got 1"),
    ("/kelly/subscribe", [0], "/kelly/subscribe: port must be 1..65535, got 0"),
    ("/kelly/subscribe", ["x"], "expects no argument or one int (a port)"),
    ("/kelly/valence", [0.5], "unknown address '/kelly/valence'"),  # an output address is not an input
    ("/" + "x" * 100, [], "unknown address '/xxxxxxxxx"),
]


@pytest.mark.parametrize(("address", "params", "words"), BAD)
def test_bad_control_messages_are_refused_with_one_line(address, params, words):
    with pytest.raises(control.BadMessage) as e:
        control.parse(address, params)
    assert words in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 120


def _dgram(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


GARBAGE = [
    (b"", "not an OSC packet (0 bytes)"),
    (b"\x00\x01garbage", "not an OSC packet (9 bytes)"),
    (b"/kelly/blend", "unterminated string"),
    (_dgram("/kelly/blend", 0.5)[:-4], "malformed OSC message: 20 bytes for type tags ',f'"),  # python-osc: 0.0
    (_dgram("/kelly/blend", 0.5)[:-1], "23 bytes for type tags ',f'"),
    (b"/kelly/blend\x00\x00\x00\x00,x\x00\x00", "unsupported OSC type tag 'x'"),  # python-osc only logs it
    (b"#bundle\x00" + b"\xff" * 12, "bad bundle element size 4294967295"),
    (b"#bundle\x00\x00", "truncated bundle (9 bytes)"),
]


@pytest.mark.parametrize(("data", "words"), GARBAGE)
def test_malformed_packets_are_refused(data, words):
    with pytest.raises(control.BadMessage) as e:
        control.messages(data)
    assert words in str(e.value)


def test_bundles_are_split_into_their_messages():
    inner = _dgram("/kelly/blend", 0.25)
    bundle = b"#bundle\x00" + bytes(8) + len(inner).to_bytes(4, "big") + inner
    nested = b"#bundle\x00" + bytes(8) + len(bundle).to_bytes(4, "big") + bundle + len(inner).to_bytes(4, "big") + inner
    assert [(m.address, m.params) for m in control.messages(nested)] == [("/kelly/blend", [0.25])] * 2
    deep = inner
    for _ in range(control.MAX_BUNDLE_DEPTH + 1):
        deep = b"#bundle\x00" + bytes(8) + len(deep).to_bytes(4, "big") + deep
    with pytest.raises(control.BadMessage, match="nested deeper than 8"):
        control.messages(deep)


def figures() -> dict:
    f = {name: 7 for name, _, _ in STATUS}
    for _, names, _, _ in OUT:
        f.update({n: 0.25 for n in names})
    f.update(periods=2**40, infer_last_us=float("nan"), latency_frames=1984, ml=1, rate=48000)
    f["emotion"] = [1.0 / 64] * 64
    return f


def test_status_bundle_round_trip_through_python_osc():
    data = snapshot.encode(figures())
    messages = {t.message.address: t.message.params for t in OscPacket(data).messages}
    assert messages["/kelly/valence"] == [0.25]
    assert messages["/kelly/latency"][0] == 1984 and messages["/kelly/server"][0] == 48000
    assert messages["/kelly/status/periods"] == [2**31 - 1]  # int32 on the wire: clamped, not wrapped
    assert math.isnan(messages["/kelly/status/infer_last_us"][0])
    assert len(messages["/kelly/emotion"]) == 64
    assert len(data) < 4096  # one datagram, well under any MTU-fragmentation worry on loopback
    back = snapshot.decode(t.message for t in OscPacket(data).messages)
    assert back["xruns"] == 7 and back["ml"] == 1 and back["latency_frames"] == 1984
    assert set(back) == {k for k in figures() if k != "periods"} | {"periods"}


def test_osc_block_defaults_to_off_and_loopback():
    o = parse_config("", "x.yaml")["osc"]
    assert o == {"enabled": False, "host": "127.0.0.1", "port": 9000, "targets": [], "rate_hz": 10.0}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("osc:\n  targets: ['127.0.0.1']\n", "x.yaml:2: osc.targets: each target must be 'host:port'"),
        ("osc:\n  targets: ['h:0']\n", "x.yaml:2: osc.targets: each target must be 'host:port' with a port 1..65535"),
        ("osc:\n  host: my.host\n", "x.yaml:2: osc.host: must be an IP address"),
        ("osc:\n  rate_hz: 1000\n", "x.yaml:2: osc.rate_hz: must be between 0.1 and 100, got 1000"),
        ("osc:\n  port: -1\n", "x.yaml:2: osc.port: must be between 0 and 65535, got -1"),
    ],
)
def test_osc_block_errors_name_the_line_and_key(text, words):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "x.yaml")
    assert str(e.value).startswith(words)


def test_control_port_binds_loopback_by_default():
    service = open_osc(parse_config("osc: {enabled: true, port: 0}\n", "x.yaml"))
    try:
        assert service.address[0] == "127.0.0.1" and service.address[1] > 0
    finally:
        service.stop()
    assert open_osc(parse_config("", "x.yaml")) is None  # off unless enabled


def test_bad_messages_are_counted_and_reported_at_a_bounded_rate():
    err = io.StringIO()
    service = open_osc(parse_config("osc: {enabled: true, port: 0}\n", "x.yaml"), err)
    service.start(None, None)  # no session: only the control side runs
    try:
        client = SimpleUDPClient(*service.address)
        for _ in range(20):
            client.send_message("/kelly/blend", 3.0)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for garbage in (
            b"",
            b"\x00\x01garbage",
            b"/kelly/blend\x00\x00\x00\x00,f\x00\x00\x00",
            b"#bundle\x00" + b"\xff" * 12,
        ):
            raw.sendto(garbage, service.address)
        raw.close()
        deadline = time.monotonic() + 5
        while service.bad < 24 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.bad == 24
        assert service._thread.is_alive()
        lines = err.getvalue().splitlines()
        assert len(lines) == 1, lines  # the first at once, the next not before 5 s
        assert lines[0].startswith("kelly-jack: OSC message from 127.0.0.1:")
        assert "/kelly/blend: must be between 0 and 1, got 3" in lines[0]
        client.send_message("/kelly/subscribe", [])
        assert _wait(lambda: len(service.subscribers) == 1)
    finally:
        service.stop()


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_port_in_use_stops_kelly_with_exit_2_naming_the_key(tmp_path):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        cfg = tmp_path / "k.yaml"
        cfg.write_text(f"backend: {{name: constant}}\nosc:\n  enabled: true\n  port: {port}\n")
        r = kelly("--config", str(cfg))
    finally:
        taken.close()
    assert r.returncode == 2
    assert r.stderr == f"kelly-jack: {cfg}:4: osc.port: cannot bind UDP 127.0.0.1:{port}: " \
        "Address already in use\n"  # fmt: skip


def test_status_and_monitor_flags_exclude_each_other():
    r = kelly("--status", "--monitor")
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


def test_monitor_without_a_kelly_gives_up_with_exit_1():
    free = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    t = time.monotonic()
    r = kelly("monitor", "--port", str(port), "--once", "--timeout", "1")
    assert r.returncode == 1 and time.monotonic() - t < 20
    assert r.stderr.startswith(f"kelly-jack monitor: no status from 127.0.0.1:{port} within 1 s")


def test_monitor_config_without_osc_names_the_key(tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text("osc:\n  enabled: false\n")
    r = kelly("monitor", "--config", str(cfg), "--once")
    assert r.returncode == 2
    assert r.stderr == f"kelly-jack monitor: {cfg}:2: osc.enabled: is false: no OSC port to watch\n"
