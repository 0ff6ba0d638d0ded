"""``kelly-jack backends``: every discovered backend, with its plugin, distribution and version."""

from __future__ import annotations

import argparse

from .model import plugins_found

GROUP = "tools for model and plugin authors"


def _print_table(found: dict, what: str) -> None:
    rows = [(n, e.plugin, e.distribution, e.version, e.spec.description) for n, e in sorted(found.items())]
    header = (what, "plugin", "distribution", "version")
    widths = [max(len(r[i]) for r in [*rows, (*header, "")]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + f"  {r[4]}")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("backends", help="list the backends every plugin provides")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    _print_table(plugins_found().backends, "backend")
    return 0
