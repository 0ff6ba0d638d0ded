"""``kelly-jack init [PATH]``: write a commented starter config.

The text is ``config.starter_config()``, generated from the config schema, so it
lists every key the code knows with its default and cannot drift from it. PATH
defaults to the user config that every command finds without ``--config``
(``$XDG_CONFIG_HOME/kelly-jack/studio.yaml``). An existing file is never
overwritten: exit code 2 and one line naming it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import __version__
from ..config import CONFIG_ENV, starter_config, user_config_path
from ..errors import UsageError

GROUP = "configuration"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "init",
        strict=True,
        help="write a commented starter config with every key at its default (default PATH: "
        "~/.config/kelly-jack/studio.yaml); never overwrites",
        description=(
            "Write a commented starter config: every key at its default (the shipped model through the rtneural "
            "backend, the harmony generator), each with what it does. Edit it, then check it with "
            "`kelly-jack doctor`. An existing file is never overwritten."
        ),
    )
    p.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="where to write it (default: $XDG_CONFIG_HOME/kelly-jack/studio.yaml, ~/.config/kelly-jack/studio.yaml: "
        "the file every command reads when there is no --config and no $KELLY_JACK_CONFIG)",
    )
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Write the starter config to PATH; 0 when written, UsageError (exit 2, one line) when it exists or fails."""
    path = Path(args.path) if args.path else user_config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{path}: cannot make its folder {path.parent}: {e.strerror or e}") from None
    try:
        with open(path, "x", encoding="utf-8") as f:  # "x": fails on an existing file, never truncates it
            f.write(starter_config(__version__))
    except FileExistsError:
        raise UsageError(f"{path}: exists already; not overwritten (remove it or give another PATH)") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot write: {e.strerror or e}") from None
    if os.path.abspath(path) != os.path.abspath(user_config_path()):
        how = f"use it with --config {path} or KELLY_JACK_CONFIG={path}"
    elif os.environ.get(CONFIG_ENV):
        how = f"${CONFIG_ENV} ({os.environ[CONFIG_ENV]}) comes first while it is set"
    else:
        how = "every command reads it when there is no --config"
    print(f"kelly-jack: wrote {path}: {how}", file=sys.stderr)
    return 0
