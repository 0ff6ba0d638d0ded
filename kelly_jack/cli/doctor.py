"""``kelly-jack doctor [--config FILE] [--server NAME] [--runs N]``: check the audio setup.

Prints one OK/INFO/WARN/FAIL line per check (``kelly_jack.doctor``), with what
to do under each one that is not OK. Exit code 0 when nothing FAILs, 1 when
something does, 2 for a config file that does not parse.
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, load_found_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kelly-jack doctor",
        description=(
            "Check what a Linux audio setup gets wrong: the JACK or PipeWire server (which one, rate, period), "
            "realtime priority and locked-memory limits, the CPU frequency governor, the Numba cache, and whether "
            "the configured model loads and how long one inference takes against the period. "
            "Exit code 0 when nothing FAILs, 1 otherwise."
        ),
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration (default: $KELLY_JACK_CONFIG, else ~/.config/kelly-jack/studio.yaml, else the "
        "built-in defaults); the first line says which one",
    )
    p.add_argument("--server", metavar="NAME", help="JACK server name (overrides client.server)")
    p.add_argument("--runs", metavar="N", type=int, default=50, help="inference calls to time (default 50)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1:
        print("kelly-jack: --runs must be at least 1", file=sys.stderr)
        return 2
    try:
        cfg = load_found_config(args.config)
    except ConfigError as e:
        print(f"kelly-jack: {e}", file=sys.stderr)
        return 2
    from .engine.checks import FAIL, run_checks

    failed = False
    for result in run_checks(cfg, args.server, args.runs):
        print("\n".join(result.lines()), flush=True)
        failed |= result.status == FAIL
    return 1 if failed else 0
