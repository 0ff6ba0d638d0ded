"""``kelly-jack warm [--config FILE]``: compile the Numba kernels into the cache now (``kelly_jack.warm``).

Exit code 0; a bad config is a ConfigError (one line, exit 2).
"""

from __future__ import annotations

import argparse
import sys
import time

from ..config import load_found_config
from . import add_config_option

GROUP = "tools for model and plugin authors"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "warm",
        strict=True,
        help="compile the Numba kernels into the cache now (once after install)",
        description=(
            "Compile the Numba kernels the config needs into Numba's cache now, so that the next start "
            "and render load them in about a second instead of compiling them (about 12 s on a "
            "2-core machine). Run once after install or update; scripts/setup runs it."
        ),
    )
    add_config_option(p)
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    cfg = load_found_config(args.config)
    from ..warm import warm

    t0 = time.perf_counter()
    listener = warm(cfg)
    import numba

    where = numba.config.CACHE_DIR or "the package's __pycache__ folders"
    print(
        f"kelly-jack warm: {listener.count} kernels compiled in {listener.seconds:.1f} s, the rest were cached "
        f"({time.perf_counter() - t0:.1f} s in all); cache: {where}",
        file=sys.stderr,
    )
    return 0
