"""``kelly-jack monitor``: watch a running kelly through its OSC status stream.

Exit codes: 0 ok (Ctrl-C ends the live view); 1 no status arrived in time
(``--once``); 2 bad arguments or configuration (one line).
"""

from __future__ import annotations

import argparse
import sys
import time

from ..config import ConfigError, load_config, where
from ..errors import EXIT_FAILURE, KellyError, UsageError

GROUP = "watching a running kelly (needs osc.enabled: true in its config)"


class NoStatus(KellyError):
    """``--once``: no status arrived in time."""

    exit_code = EXIT_FAILURE


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "monitor",
        strict=True,
        help="valence/arousal over the last minute, emotion grid, latency, audio-thread and inference time, xruns, "
        "late results",
        description=(
            "Show a running kelly live: valence/arousal over the last minute, the 8x8 emotion grid, latency, "
            "audio-thread time, xruns, late results and inference time. kelly must run with osc.enabled: true; "
            "the monitor subscribes on its control port and receives its status stream on a loopback port."
        ),
    )
    p.add_argument("--config", metavar="FILE", help="take osc.host and osc.port from kelly's config")
    p.add_argument("--host", help="kelly's OSC host (default: osc.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="kelly's OSC control port (default: osc.port, 9000)")
    p.add_argument("--once", action="store_true", help="print one frame as plain text and exit")
    p.add_argument("--seconds", type=float, default=2.0, help="--once: collect this long before printing (2)")
    p.add_argument("--timeout", type=float, default=3.0, help="--once: give up when no status came this long (3)")
    p.set_defaults(func=main, error_prefix="kelly-jack monitor")
    return p


def _endpoint(args) -> tuple[str, int]:
    host, port = "127.0.0.1", 9000
    if args.config:
        cfg = load_config(args.config)
        if not cfg["osc"]["enabled"]:
            raise ConfigError(f"{where(cfg, 'osc.enabled')}: osc.enabled: is false: no OSC port to watch")
        host, port = cfg["osc"]["host"], cfg["osc"]["port"]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # bound everywhere: reach it on loopback
        if port == 0:
            raise ConfigError(f"{where(cfg, 'osc.port')}: osc.port: is 0 (any free port): give the port with --port")
    host = args.host or host
    port = args.port if args.port is not None else port
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be 1..65535, got {port}")
    return host, port


def main(args: argparse.Namespace) -> int:
    host, port = _endpoint(args)
    from ..monitor.feed import StatusFeed
    from ..monitor.live import LiveMonitor
    from ..monitor.view import History, frame, plain_text

    try:
        feed = StatusFeed(host, port)
    except OSError as e:
        raise UsageError(f"cannot reach {host}:{port}: {e}") from None
    source = f"kelly at {host}:{port}"
    try:
        if args.once:
            history, latest = History(), None
            start = time.monotonic()
            while True:
                now = time.monotonic()
                if latest is None and now - start > args.timeout:
                    raise NoStatus(
                        f"no status from {host}:{port} within {args.timeout:g} s "
                        "(is kelly running with osc.enabled: true and this port?)"
                    )
                if latest is not None and now - start >= args.seconds:
                    break
                f = feed.poll(0.1)
                if f is not None:
                    latest = f
                    history.add(time.monotonic(), float(f["valence"]), float(f["arousal"]))
            print(plain_text(frame(latest, history, time.monotonic(), source)), end="")
            return 0
        print(f"kelly-jack monitor: waiting for {source} (Ctrl-C stops)", file=sys.stderr)
        view = LiveMonitor(source)
        try:
            while True:
                view.update(feed.poll(0.25))
        except KeyboardInterrupt:
            return 0
        finally:
            view.close()
    finally:
        feed.close()
