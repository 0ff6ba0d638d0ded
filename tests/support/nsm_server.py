"""A small NSM server of the tests' own: UDP on 127.0.0.1, the messages of the NSM API 1.1.

It encodes and decodes OSC by hand (padded strings, type tags, big-endian
int32/float32), independently of kelly's python-osc based code, so the tests
check the bytes on the wire. It answers ``/nsm/server/announce`` as nsmd does
and lets the test send ``open`` and ``save`` and wait for what the client sends.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)  # at least one NUL, then to a multiple of 4


def osc_encode(address: str, *args: str | int | float) -> bytes:
    tags, body = ",", b""
    for a in args:
        if isinstance(a, str):
            tags, body = tags + "s", body + _pad(a.encode())
        elif isinstance(a, int):
            tags, body = tags + "i", body + struct.pack(">i", a)
        else:
            tags, body = tags + "f", body + struct.pack(">f", a)
    return _pad(address.encode()) + _pad(tags.encode()) + body


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode(), (end // 4 + 1) * 4


def osc_decode(data: bytes) -> tuple[str, tuple]:
    address, at = _string(data, 0)
    tags, at = _string(data, at)
    assert tags.startswith(","), f"no type tags in {data!r}"
    args = []
    for t in tags[1:]:
        if t == "s":
            s, at = _string(data, at)
            args.append(s)
        elif t in "if":
            args.append(struct.unpack(">i" if t == "i" else ">f", data[at : at + 4])[0])
            at += 4
        else:
            raise AssertionError(f"unexpected OSC type {t!r} in {data!r}")
    return address, tuple(args)


@dataclass
class Received:
    address: str
    args: tuple
    source: tuple[str, int]
    at: float  # time.monotonic() of arrival


class NsmServer:
    """Records every message; answers announce; ``open``/``save`` go to the client that announced."""

    def __init__(self, refuse: tuple[int, str] | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.refuse = refuse  # (error code, text): answer announce with /error
        self.messages: list[Received] = []
        self.client: tuple[str, int] | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"osc.udp://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _run(self) -> None:
        while not self._stop:
            try:
                data, source = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            address, args = osc_decode(data)
            with self._cond:
                self.messages.append(Received(address, args, source, time.monotonic()))
                self._cond.notify_all()
            if address == "/nsm/server/announce":
                self.client = source
                if self.refuse:
                    self._send(osc_encode("/error", "/nsm/server/announce", *self.refuse))
                else:
                    reply = ("/nsm/server/announce", "Howdy", "kelly test NSM", ":server-control:optional-gui:")
                    self._send(osc_encode("/reply", *reply))

    def _send(self, data: bytes) -> None:
        self.sock.sendto(data, self.client)

    def open(self, path: str, display: str, client_id: str) -> None:
        self._send(osc_encode("/nsm/client/open", path, display, client_id))

    def save(self) -> None:
        self._send(osc_encode("/nsm/client/save"))

    def wait_for(
        self, address: str, first: str | None = None, timeout: float = 10.0, after: int = 0, text: str = ""
    ) -> Received:
        """The first message to ``address`` (with first argument ``first``, and ``text`` in its last) from
        index ``after`` on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages[after:]:
                    if m.address != address or (first is not None and (not m.args or m.args[0] != first)):
                        continue
                    if not text or (m.args and text in str(m.args[-1])):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.address, m.args) for m in self.messages]
                    raise AssertionError(f"no {address} {first or ''} {text} within {timeout} s; got {seen}")
                self._cond.wait(left)

    def count(self) -> int:
        with self._cond:
            return len(self.messages)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1.0)
        self.sock.close()
