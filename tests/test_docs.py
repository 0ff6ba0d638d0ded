"""The documentation: the generated pages are current, every relative link between the pages resolves
(file and anchor), the README stays a front door, and every plugin hook is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pluggy
import pytest

from kelly_jack import docs_gen, hookspecs

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "models" / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks (their lines kept empty, so headings inside them do not count)."""
    return _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for m in re.finditer(r"^#{1,6} (.+?)\s*#*$", _prose(path.read_text()), re.M):
        base = slug(m.group(1))
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def links(path: Path) -> list[str]:
    return _LINK.findall(_CODE.sub("``", _prose(path.read_text())))


def test_the_generated_pages_are_current():
    assert docs_gen.stale() == [], "docs are stale: run `python -m kelly_jack.docs_gen` and commit the pages"


def test_the_generator_keeps_the_prose_and_fills_every_block(tmp_path):
    page = "before\n<!-- BEGIN GENERATED: osc-in -->\nold table\n<!-- END GENERATED -->\nafter\n"
    out = docs_gen.render(page)
    assert out.startswith("before\n<!-- BEGIN GENERATED: osc-in -->\n| address |") and out.endswith("after\n")
    assert "old table" not in out and "`/kelly/reload`" in out and docs_gen.render(out) == out
    with pytest.raises(ValueError, match="unknown generated block"):
        docs_gen.render("<!-- BEGIN GENERATED: nope -->\n<!-- END GENERATED -->\n")
    # --check names a stale page and writes nothing; the default run rewrites it
    for name in docs_gen.PAGES:
        (tmp_path / name).write_text((ROOT / "docs" / name).read_text())
    (tmp_path / "osc.md").write_text(page)
    assert docs_gen.main(["--check", "--docs", str(tmp_path)]) == 1 and (tmp_path / "osc.md").read_text() == page
    assert docs_gen.main(["--docs", str(tmp_path)]) == 0 and docs_gen.stale(tmp_path) == []


def test_every_config_key_and_osc_address_is_in_the_pages():
    from kelly_jack.config import SCHEMA
    from kelly_jack.osc import addresses

    config = (ROOT / "docs" / "configuration.md").read_text()
    for section, fields in SCHEMA.items():
        for key in fields:
            name = docs_gen.PLACEHOLDERS[section] if key == "*" else key
            assert f"| `{section}.{name}` |" in config, f"{section}.{key} is not in docs/configuration.md"
    osc = (ROOT / "docs" / "osc.md").read_text()
    names = [a for a, *_ in addresses.OUT] + [a for a, *_ in addresses.IN] + [addresses.EMOTION]
    names += [addresses.status_address(n) for n, *_ in addresses.STATUS]
    for address in names:
        assert f"| `{address}` |" in osc, f"{address} is not in docs/osc.md"


def test_slugs_are_githubs():
    assert slug("Checking the setup: `kelly-jack doctor`") == "checking-the-setup-kelly-jack-doctor"
    assert slug("Overview (layout 5)") == "overview-layout-5"
    assert slug("Layout 1 -> 2") == "layout-1---2"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_and_anchor_that_exist(page):
    bad = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            bad.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not bad, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(bad)


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024, f"README.md is {len(readme.encode())} bytes: move detail to docs/"
    # the two commands (.ci/run runs the second)
    assert "scripts/demo " in readme and "scripts/test " in readme
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README's 'Where to go next' does not link docs/{page.name}"


def test_every_benchmark_section_says_when_and_on_what_machine_it_was_measured():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert sections
    for section in sections:
        title, _, body = section.partition("\n")
        head = body.strip().split("\n\n")[0]
        assert re.match(r"Measured \d{4}-\d{2}-\d{2}\b", head), f"docs/benchmarks.md, {title}: no 'Measured DATE' line"
        assert "Machine: " in head, f"docs/benchmarks.md, {title}: no 'Machine: ' in its first paragraph"


def test_every_plugin_hook_has_a_section_with_its_arguments_thread_and_an_example():
    """As datasette does: each hookspec has a section in docs/plugins.md, and each section a hookspec."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    hooks = sorted(name for name in vars(manager.hook) if name.startswith("kelly_jack_"))
    assert hooks
    sections = dict(re.findall(r"^### `(kelly_jack_\w+)\(\)`\n(.*?)(?=^#{1,3} |\Z)", text, re.M | re.S))
    assert sorted(sections) == hooks, "docs/plugins.md's hook sections differ from kelly_jack/hookspecs.py"
    for hook, body in sections.items():
        for part in ("**Arguments**", "**Returns**", "**Called**", f"def {hook}("):
            assert part in body, f"docs/plugins.md: the section of {hook} has no {part}"


def test_the_package_map_names_every_top_level_module_and_package():
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "kelly_jack"
    names = [p.name for p in package.glob("*.py")]
    names += [f"{p.name}/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    missing = [n for n in sorted(names) if f"`{n}`" not in text and n != "__init__.py"]
    assert not missing, f"docs/architecture.md's package map leaves out {', '.join(missing)}"
