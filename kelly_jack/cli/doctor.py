"""``kelly-jack doctor [--config FILE] [--server NAME] [--runs N]``: check the audio setup.

Prints one OK/INFO/WARN/FAIL line per check (``kelly_jack.engine.checks``), with what
to do under each one that is not OK.
Exit code 0 when nothing FAILs, 1 when something does, 2 for a config file
that does not parse.
"""

from __future__ import annotations

import argparse

from ..config import load_found_config
from ..errors import EXIT_FAILURE, EXIT_OK, UsageError
from . import add_config_option

GROUP = "checking the setup"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "doctor",
        strict=True,
        help="server (JACK2 or PipeWire, rate, period), realtime and memlock limits, CPU governor, Numba cache, "
        "model load and inference time; OK/INFO/WARN/FAIL lines with what to do; exit 1 if anything FAILs",
        description=(
            "Check what a Linux audio setup gets wrong: the JACK or PipeWire server (which one, rate, period), "
            "realtime priority and locked-memory limits, the CPU frequency governor, the Numba cache, and whether "
            "the configured model loads and how long one inference takes against the period. "
            "Exit code 0 when nothing FAILs, 1 otherwise."
        ),
    )
    add_config_option(p, after="; the first line says which one")
    p.add_argument("--server", metavar="NAME", help="JACK server name (overrides client.server)")
    p.add_argument("--runs", metavar="N", type=int, default=50, help="inference calls to time (default 50)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    cfg = load_found_config(args.config)
    from ..engine.checks import FAIL, run_checks

    failed = False
    for result in run_checks(cfg, args.server, args.runs):
        print("\n".join(result.lines()), flush=True)
        failed |= result.status == FAIL
    return EXIT_FAILURE if failed else EXIT_OK
