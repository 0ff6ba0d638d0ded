"""The config's ``osc`` block as socket addresses: the control port to bind and the status targets.

``OscSettings.from_config`` resolves each target once (at start); a name that
does not resolve raises ``ConfigError`` naming ``file:line`` and ``osc.targets``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ..config import ConfigError, where


@dataclass(frozen=True)
class OscSettings:
    host: str  # the control port's bind address (loopback unless the config says otherwise)
    port: int  # 0: any free port
    targets: tuple[tuple[int, tuple], ...]  # (address family, sockaddr) of each status target
    target_names: tuple[str, ...]
    rate_hz: float

    @classmethod
    def from_config(cls, cfg: dict) -> OscSettings:
        o = cfg["osc"]
        resolved = []
        for t in o["targets"]:
            host, _, port = t.rpartition(":")
            host = host[1:-1] if host.startswith("[") else host
            try:
                family, _, _, _, addr = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
            except (OSError, UnicodeError) as e:
                raise ConfigError(f"{where(cfg, 'osc.targets')}: osc.targets: cannot resolve {t!r}: {e}") from None
            resolved.append((family, addr))
        return cls(o["host"], o["port"], tuple(resolved), tuple(o["targets"]), o["rate_hz"])
