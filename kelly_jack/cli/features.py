"""``kelly-jack features IN -o OUT.npy [--config FILE]``: dump the 128 features of every hop of a file.

The logic is in ``kelly_jack.offline.features_dump``; this parses the command
line and reads the analysis settings from the config. Errors (a config, an
unreadable file) are KellyErrors: one line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ..config import describe_source, load_found_config
from . import add_config_option

GROUP = "tools for model and plugin authors"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "features",
        strict=True,
        help="the 128 features of every hop of a file (.npy + .json)",
        description=(
            "Write the 128 features of every hop of an audio file (any format soundfile reads) to OUT.npy, "
            "rows x 128 float32, with a JSON sidecar OUT.json (layout names and version, sample rate, window, "
            "hop). The file is mixed to mono and resampled to analysis.rate if needed, with the live path's "
            "window and hop."
        ),
    )
    p.add_argument("input", metavar="IN", help="audio file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npy", help="where to write the rows")
    add_config_option(p, "analysis.rate, window, hop, channel")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    cfg = load_found_config(args.config)
    from ..offline.features_dump import dump_features

    a = cfg["analysis"]
    r = dump_features(
        args.input, args.output, sample_rate=a["rate"], window=a["window"], hop=a["hop"], channel=a["channel"]
    )
    print(
        f"{r.output}: {r.rows} rows x 128 features at {r.sample_rate} Hz (window {a['window']}, hop {a['hop']}); "
        f"sidecar {r.sidecar}; config {describe_source(cfg)}",
        file=sys.stderr,
    )
    return 0
