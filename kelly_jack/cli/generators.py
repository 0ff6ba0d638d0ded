"""``kelly-jack generators``: every discovered MIDI generator, with its plugin, distribution and version."""

from __future__ import annotations

import argparse

from .backends import _print_table
from .model import plugins_found

GROUP = "tools for model and plugin authors"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("generators", help="list the MIDI generators every plugin provides")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    _print_table(plugins_found().generators, "generator")
    return 0
