"""``kelly-jack features IN -o OUT.npy [--config FILE]``: dump the 128 features of every hop of a file.

The logic is in ``kelly_jack.offline.features_dump``; this parses the command
line, reads the analysis settings from the config, and turns errors into one
line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, describe_source, load_found_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kelly-jack features",
        description=(
            "Write the 128 features of every hop of an audio file (any format soundfile reads) to OUT.npy, "
            "rows x 128 float32, with a JSON sidecar OUT.json (layout names and version, sample rate, window, "
            "hop). The file is mixed to mono and resampled to analysis.rate if needed, with the live path's "
            "window and hop."
        ),
    )
    p.add_argument("input", metavar="IN", help="audio file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npy", help="where to write the rows")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration (analysis.rate, window, hop, channel); default: $KELLY_JACK_CONFIG, else "
        "~/.config/kelly-jack/studio.yaml, else the built-in defaults",
    )
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_found_config(args.config)
    except ConfigError as e:
        print(f"kelly-jack: {e}", file=sys.stderr)
        return 2
    from .offline.features_dump import DumpError, dump_features

    a = cfg["analysis"]
    try:
        r = dump_features(
            args.input, args.output, sample_rate=a["rate"], window=a["window"], hop=a["hop"], channel=a["channel"]
        )
    except DumpError as e:
        print(f"kelly-jack: {e}", file=sys.stderr)
        return 2
    print(
        f"{r.output}: {r.rows} rows x 128 features at {r.sample_rate} Hz (window {a['window']}, hop {a['hop']}); "
        f"sidecar {r.sidecar}; config {describe_source(cfg)}",
        file=sys.stderr,
    )
    return 0
