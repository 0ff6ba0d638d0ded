"""The ``kelly-jack`` command line: one module per subcommand, one place that turns errors into exit codes.

``kelly-jack`` with no subcommand runs the live client (``run``); every other
command is a subparser that its module adds (``add_parser``), with the function
it runs as ``func``. The epilog of ``kelly-jack --help`` is built from those
subparsers, so it cannot list a command that is not there or leave one out.

Exit codes: 0 ok; 1 the JACK server went away or an unexpected error;
2 bad arguments, configuration or backend block (one line naming file:line and
key); 3 no JACK server running. An error for the user is a ``KellyError``: its
line goes to stderr and its ``exit_code`` is the exit code (``fail``).
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import textwrap
from importlib import import_module

from ..errors import EXIT_FAILURE, EXIT_NO_SERVER, EXIT_OK, EXIT_USAGE, KellyError

__all__ = [
    "EXIT_FAILURE",
    "EXIT_NO_SERVER",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_config_option",
    "build_parser",
    "fail",
    "main",
]

# the subcommand modules, in the order --help lists them
COMMANDS = ("backends", "generators", "model", "render", "features", "warm", "monitor", "init", "doctor")

EPILOG_END = """\
exit codes:
  0  ok
  1  the JACK server went away, or an internal error
  2  bad arguments, configuration or backend block (one line: file:line and key)
  3  no JACK server running (scripts/demo starts a private one)

Every command reads --config FILE, else $KELLY_JACK_CONFIG, else $XDG_CONFIG_HOME/kelly-jack/studio.yaml
(~/.config/kelly-jack/studio.yaml), else the built-in defaults: the shipped emotion model (rtneural
backend) and the harmony generator. The start line names the config in use. Every config key is
documented in docs/configuration.md (in the sources)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommand parsers report unknown arguments under their own name.

    argparse hands a subparser's unknown arguments up to the top parser, whose error would name
    ``kelly-jack``; a ``strict`` parser reports them itself (``kelly-jack render: error: ...``).
    """

    def __init__(self, *args, strict: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict = strict

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if self.strict and extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


CONFIG_SEARCH = "$KELLY_JACK_CONFIG, else ~/.config/kelly-jack/studio.yaml, else the built-in defaults"


def add_config_option(p: argparse.ArgumentParser, what: str = "", after: str = "") -> None:
    """``--config FILE``, saying where the config is found without it (one text for every command that finds it).

    ``what``: the keys the command reads; ``after``: a remark after the search order."""
    uses = f" ({what})" if what else ""
    p.add_argument("--config", metavar="FILE", help=f"YAML configuration{uses}; default: {CONFIG_SEARCH}{after}")


def fail(error: KellyError, prefix: str = "kelly-jack") -> int:
    """Print ``error``'s one line on stderr; return its exit code. The one place errors become exit codes."""
    print(f"{prefix}: {error}", file=sys.stderr)
    return error.exit_code


def _synopsis(parser: argparse.ArgumentParser) -> str:
    usage = " ".join(parser.format_usage().split())
    return usage.removeprefix("usage: ").replace(" [-h]", "")


def _epilog(sub: argparse._SubParsersAction, groups: list[tuple[str, list[str]]]) -> str:
    """The commands by group: each one's synopsis (from its parser) and what it does (its help)."""
    helps = {a.dest: a.help for a in sub._choices_actions}
    lines = []
    for group, names in groups:
        lines.append(f"{group}:")
        for name in names:
            parser = sub.choices[name]
            nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            entries = [(parser, helps[name])]
            if nested:  # model info/run/convert: one entry each
                entries = [(nested[0].choices[a.dest], a.help) for a in nested[0]._choices_actions]
            for p, what in entries:
                lines.append(_fill(_synopsis(p), "  "))
                lines.append(_fill(what, "      "))
        lines.append("")
    return "\n".join(lines) + "\n" + EPILOG_END


def _fill(text: str, indent: str) -> str:
    return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent="      ", break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the live client's options, and a subparser per command of ``COMMANDS``."""
    from . import run

    p = Parser(prog="kelly-jack", description=run.DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_arguments(p)
    p.set_defaults(func=run.main, error_prefix="kelly-jack")
    # the commands are listed in the epilog, with their synopses; argparse's own list would repeat it
    sub = p.add_subparsers(dest="command", help=argparse.SUPPRESS, parser_class=Parser)
    groups: dict[str, list[str]] = {}
    for name in COMMANDS:
        module = import_module(f".{name}", __name__)
        module.add_parser(sub)
        groups.setdefault(module.GROUP, []).append(name)
    p.epilog = _epilog(sub, list(groups.items()))
    return p


def main(argv: list[str] | None = None) -> int:
    # a fatal signal (a crash in native code: libjack, a kernel) prints every thread's Python stack to
    # stderr, where a bare "Segmentation fault" would say nothing of where it happened
    faulthandler.enable()
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except KellyError as e:
        return fail(e, args.error_prefix)
    except BrokenPipeError:  # `kelly-jack backends | head`: the reader left early; nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
