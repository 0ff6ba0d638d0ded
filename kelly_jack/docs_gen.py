"""Generate the tables of docs/configuration.md and docs/osc.md from the code.

``python -m kelly_jack.docs_gen`` rewrites, in each page, the text between a
``<!-- BEGIN GENERATED: NAME -->`` line and the next ``<!-- END GENERATED -->`` line;
the prose around the markers is kept as written. ``--check`` writes nothing and exits 1,
naming the pages, when a committed page differs from what the code gives
(``tests/test_docs.py`` runs the same check).

Sources: ``kelly_jack.config.SCHEMA`` (with ``KEY_DOCS``, ``SECTION_DEFAULTS`` and
``SECTION_DOCS``) for the config keys, ``kelly_jack.osc.addresses`` for the OSC addresses.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from .config import KEY_DOCS, SCHEMA, SECTION_DEFAULTS, SECTION_DOCS
from .osc import addresses

DOCS = Path(__file__).resolve().parent.parent / "docs"

# the name a free-form ("*") section's entries take in the table
PLACEHOLDERS = {"connect": "<port>", "backend": "<option>", "generators": "<name>"}

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+) -->\n)(.*?)(<!-- END GENERATED -->)", re.S)


def _flow(value) -> str:
    """A value as it is written in a config file (YAML flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    return text.removesuffix("\n...").strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_keys() -> str:
    """The table of every config key: its default and what it does."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for section, fields in SCHEMA.items():
        for key, field in fields.items():
            if key == "*":
                key = PLACEHOLDERS[section]
                extras = SECTION_DEFAULTS.get(section, {})
                default = (
                    "; ".join(f"`{k}: {_flow(v)}`" for k, v in extras.items())
                    + f" while the config has no `{section}` section"
                    if extras
                    else "none"
                )
            else:
                default = f"`{_flow(field.default)}`"
            dotted = f"{section}.{key}"
            rows.append(f"| `{dotted}` | {_cell(default)} | {_cell(KEY_DOCS.get(dotted, field.doc))} |")
    return "\n".join(rows) + "\n"


def config_sections() -> str:
    """One line per section, as ``kelly-jack init`` writes them above each section."""
    return "".join(f"- `{section}`: {_cell(SECTION_DOCS[section])}\n" for section in SCHEMA if section in SECTION_DOCS)


def _args(tags: str) -> str:
    if not tags:
        return "none"
    if tags.startswith("[") and tags.endswith("]"):
        return f"none, or `{' '.join(tags[1:-1])}`"
    return f"`{' '.join(tags)}`"


def osc_out() -> str:
    rows = ["| address | arguments | what |", "| --- | --- | --- |"]
    rows += [f"| `{address}` | {_args(tags)} | {_cell(doc)} |" for address, _names, tags, doc in addresses.OUT]
    rows.append(f"| `{addresses.EMOTION}` | 64 x `f` | {_cell(addresses.EMOTION_DOC)} |")
    rows += [
        f"| `{addresses.status_address(name)}` | {_args(tag)} | {_cell(doc)} |" for name, tag, doc in addresses.STATUS
    ]
    return "\n".join(rows) + "\n"


def osc_in() -> str:
    rows = ["| address | arguments | what |", "| --- | --- | --- |"]
    rows += [f"| `{address}` | {_args(tags)} | {_cell(doc)} |" for address, tags, doc in addresses.IN]
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "config-sections": config_sections,
    "config-keys": config_keys,
    "osc-out": osc_out,
    "osc-in": osc_in,
}
PAGES = ("configuration.md", "osc.md")


def render(text: str) -> str:
    """``text`` with every generated block filled from the code; an unknown block name is an error."""

    def fill(m: re.Match) -> str:
        if m.group(2) not in BLOCKS:
            raise ValueError(f"unknown generated block {m.group(2)!r} (known: {', '.join(BLOCKS)})")
        return m.group(1) + BLOCKS[m.group(2)]() + m.group(4)

    return _BLOCK.sub(fill, text)


def stale(docs: Path = DOCS) -> list[str]:
    """The pages whose committed text differs from the generated one."""
    return [page for page in PAGES if render(text := (docs / page).read_text()) != text]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kelly_jack.docs_gen", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is stale")
    p.add_argument("--docs", type=Path, default=DOCS, help="the docs folder (default: the checkout's)")
    args = p.parse_args(argv)
    if args.check:
        pages = stale(args.docs)
        if pages:
            print(f"stale: {', '.join(pages)}: run python -m kelly_jack.docs_gen", file=sys.stderr)
            return 1
        return 0
    for page in PAGES:
        path = args.docs / page
        text = path.read_text()
        if (new := render(text)) != text:
            path.write_text(new)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
