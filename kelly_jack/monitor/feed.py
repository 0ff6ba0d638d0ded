"""A subscription to a running kelly's OSC status stream, on a socket of its own.

``StatusFeed(host, port)`` binds a UDP socket (loopback when kelly's host is a
loopback address, else every interface), sends ``/kelly/subscribe`` from it,
and renews the subscription every ``RENEW_S`` seconds; ``poll(timeout)``
returns the newest figures (``osc.snapshot.decode``) received, or None.
Packets that are not kelly's status bundles are ignored. Main thread only.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from ..osc.snapshot import decode

RENEW_S = 3.0  # kelly drops a subscriber after 10 s without a renewal


class StatusFeed:
    def __init__(self, host: str, port: int):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]  # raises OSError (socket.gaierror)
        family, self.kelly = info[0], info[4]
        loopback = ipaddress.ip_address(self.kelly[0]).is_loopback
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        local = ("::1" if family == socket.AF_INET6 else "127.0.0.1") if loopback else ""
        self.sock.bind((local, 0))
        self._renewed = float("-inf")
        self._subscribe = OscMessageBuilder("/kelly/subscribe").build().dgram
        self.received = 0

    def poll(self, timeout: float) -> dict | None:
        """Wait up to ``timeout`` s; the newest status that arrived (merged in order), or None."""
        now = time.monotonic()
        if now - self._renewed >= RENEW_S:
            self._renewed = now
            try:
                self.sock.sendto(self._subscribe, self.kelly)
            except OSError:
                pass  # kelly not there (yet): the next renewal tries again
        latest = None
        deadline = now + timeout
        while True:
            wait = max(0.0, deadline - time.monotonic())
            if not select.select([self.sock], [], [], wait)[0]:
                return latest
            try:
                data, _ = self.sock.recvfrom(65536)
                f = decode(t.message for t in OscPacket(data).messages)
            except Exception:
                continue  # ICMP refusals (kelly not running) and foreign packets
            if "periods" in f and "rate" in f:
                latest = f
                self.received += 1
                deadline = time.monotonic()  # drain what is queued, then return

    def close(self) -> None:
        try:
            self.sock.sendto(OscMessageBuilder("/kelly/unsubscribe").build().dgram, self.kelly)
        except OSError:
            pass
        self.sock.close()
