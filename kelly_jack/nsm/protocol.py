"""The NSM (New Session Manager) OSC protocol, API 1.1: addresses, error codes, URL and message parsing.

Pure functions over bytes and strings (no sockets, no threads), so the
message grammar is tested on its own. The OSC encoding is python-osc's.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from pythonosc.osc_message import OscMessage, ParseError
from pythonosc.osc_message_builder import BuildError, OscMessageBuilder

from ..errors import KellyError

API_MAJOR = 1
API_MINOR = 1

ANNOUNCE = "/nsm/server/announce"
OPEN = "/nsm/client/open"
SAVE = "/nsm/client/save"
SESSION_IS_LOADED = "/nsm/client/session_is_loaded"
IS_DIRTY = "/nsm/client/is_dirty"
IS_CLEAN = "/nsm/client/is_clean"
MESSAGE = "/nsm/client/message"
REPLY = "/reply"
ERROR = "/error"

# the API's error codes (its "Error Code Definitions" table)
ERR_GENERAL = -1
ERR_INCOMPATIBLE_API = -2
ERR_BLACKLISTED = -3
ERR_LAUNCH_FAILED = -4
ERR_NO_SUCH_FILE = -5
ERR_NO_SESSION_OPEN = -6
ERR_UNSAVED_CHANGES = -7
ERR_NOT_NOW = -8
ERR_BAD_PROJECT = -9
ERR_CREATE_FAILED = -10
ERROR_NAMES = {v: k for k, v in globals().items() if k.startswith("ERR_") and isinstance(v, int)}


class ProtocolError(KellyError):
    """A message or URL that does not follow the API; ``str()`` is one line."""


@dataclass(frozen=True)
class Message:
    """One decoded OSC message: its address and its arguments (str, int, float)."""

    address: str
    args: tuple


def parse_url(url: str) -> tuple[str, int]:
    """(host, port) of an ``NSM_URL`` such as ``osc.udp://host:12345/``; raises ProtocolError.

    Only UDP: the API makes clients use the transport of the URL, and nsmd speaks UDP only.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise ProtocolError(f"NSM_URL {url!r}: {e}") from None
    if parts.scheme != "osc.udp":
        raise ProtocolError(f"NSM_URL {url!r}: expected osc.udp://HOST:PORT/ (only UDP is supported)")
    if not parts.hostname or not port:
        raise ProtocolError(f"NSM_URL {url!r}: expected osc.udp://HOST:PORT/")
    return parts.hostname, port


def resolve(host: str, port: int) -> tuple[str, int]:
    """The IPv4 socket address of ``host``; raises ProtocolError when the name does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as e:
        raise ProtocolError(f"NSM_URL host {host!r} does not resolve ({e})") from None
    return infos[0][4][0], port


def encode(address: str, *args: str | int | float) -> bytes:
    """One OSC message; ints are sent as int32 (``i``), floats as float32 (``f``), text as ``s``."""
    builder = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, bool) or not isinstance(a, str | int | float):
            raise TypeError(f"NSM argument {a!r}: only str, int and float")
        builder.add_arg(a, "s" if isinstance(a, str) else "i" if isinstance(a, int) else "f")
    try:
        return builder.build().dgram
    except BuildError as e:  # e.g. an int beyond 32 bits
        raise ProtocolError(f"cannot encode {address}: {e}") from None


def decode(dgram: bytes) -> Message:
    """The message in ``dgram``; raises ProtocolError for bundles and malformed datagrams."""
    if not OscMessage.dgram_is_message(dgram):
        raise ProtocolError("not an OSC message (bundles are not part of the NSM API)")
    try:
        msg = OscMessage(dgram)
    except (ParseError, ValueError, IndexError) as e:
        raise ProtocolError(f"malformed OSC message: {e}") from None
    return Message(msg.address, tuple(msg.params))


def _types(msg: Message, kinds: str) -> bool:
    want = {"s": str, "i": int}
    if len(msg.args) < len(kinds):
        return False
    return all(isinstance(a, want[k]) and not isinstance(a, bool) for a, k in zip(msg.args, kinds, strict=False))


def check(msg: Message) -> Message:
    """``msg`` if its arguments fit its address's signature in the API; raises ProtocolError otherwise.

    Unknown addresses pass (the client ignores them); extra trailing arguments are tolerated.
    """
    signature = {OPEN: "sss", SAVE: "", SESSION_IS_LOADED: ""}.get(msg.address)
    if msg.address == REPLY:
        signature = "s"
    elif msg.address == ERROR:
        signature = "sis"
    if signature is not None and not _types(msg, signature):
        got = ",".join(type(a).__name__ for a in msg.args) or "nothing"
        raise ProtocolError(f"{msg.address}: expected arguments ({','.join(signature)}), got ({got})")
    return msg


def error_name(code: int) -> str:
    """The symbolic name of an API error code (``ERR_NOT_NOW``), or the number."""
    return ERROR_NAMES.get(code, str(code))
