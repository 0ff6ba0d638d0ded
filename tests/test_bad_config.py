"""Bad configurations, generated from ``config.SCHEMA`` itself (so a new key is covered by being added).

Every case must end in one line ``FILE:LINE: section.key: ...`` (a ``ConfigError``
from the same code the CLI runs before touching JACK: parse, then build the
backend and generators) and, through the real command, exit code 2 with that
line and no traceback. Never another exception, never a hang.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kelly_jack.config import SCHEMA, ConfigError, parse_config
from kelly_jack.engine.parts import build_engine_parts

from support.jackd import ROOT

SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# a value of the wrong type for each kind of field (YAML text)
WRONG_TYPE = {
    "int": ["two", "1.5", "[1]", "{a: 1}", "true"],
    "float": ["fast", "[1.0]", "{a: 1}", "false"],
    "bool": ["'maybe'", "2", "[true]"],
    "str": ["5", "[a]", "{a: b}"],
    "str?": ["5", "[a]"],
    "strlist": ["5", "[1, 2]", "{a: b}"],
    "budget": ["'23 seconds'", "-5", "[1]", "1.5"],
    "channel": ["'all'", "0", "17", "[1]"],
    "input": ["'left'", "0", "[1]"],
}
# values out of range: checked against each field's own check, so only real refusals become cases
OUT_OF_RANGE = ["-1000000000", "1000000000", "-0.5", "1" + "0" * 400, ".nan", ".inf", "-.inf", "'no-such-choice'", "''"]


def _keys():
    return [(s, k, f) for s, fields in SCHEMA.items() for k, f in fields.items() if k != "*"]


def _refused_by_check(field, text: str) -> bool:
    value = yaml.safe_load(text)
    if field.check is None:
        return False
    try:
        ok = isinstance(value, int | float | str) and not isinstance(value, bool)
        return ok and field.check(float(value) if field.kind == "float" and abs(value) <= 1e300 else value) is not None
    except (TypeError, ValueError, OverflowError):
        return False


def cases() -> list[tuple[str, str, str]]:
    """(category, yaml text, the key the error must name)."""
    out = []
    for section, key, field in _keys():
        for bad in WRONG_TYPE[field.kind] if field.kind in WRONG_TYPE else []:
            out.append(("wrong type", f"{section}:\n  {key}: {bad}\n", f"{section}.{key}"))
        for bad in OUT_OF_RANGE:
            if field.kind in ("int", "float", "str") and _refused_by_check(field, bad):
                if field.kind == "int" and not isinstance(yaml.safe_load(bad), int):
                    continue  # a wrong type, not a range: covered above
                out.append(("out of range", f"{section}:\n  {key}: {bad}\n", f"{section}.{key}"))
    for section in SCHEMA:
        out.append(("unknown key", f"{section}:\n  no_such_key_xyz: 1\n", f"{section}.no_such_key_xyz"))
        out.append(("unknown key", f"{section}:\n  7: 1\n", f"{section}.7"))
        out.append(("wrong type", f"{section}: 5\n", section))
        out.append(("wrong type", f"{section}: [a, b]\n", section))
    out.append(("unknown key", "no_such_section: {}\n", "no_such_section"))
    return out


CASES = cases()
MALFORMED = [
    "client: [\n",
    "client:\n\tname: x\n",
    "client: {name: kelly\n",
    "client:\n  name: a\n  name: b\n",
    "? [a, b]\n: 1\n",
    "client: !!python/object/apply:os.system ['true']\n",
    "client: " + "[" * 3000 + "]" * 3000 + "\n",
    "client: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "\x00\x01\x02",
    "- just\n- a list\n",
    "42\n",
    "client: *undefined_alias\n",
    # a "billion laughs" of nested aliases: must stay linear
    "x:\n" + "".join(f"  a{i}: &a{i} {{p: *a{i - 1}, q: *a{i - 1}}}\n" for i in range(1, 40)).replace("*a0", "1"),
]


def _check_one_line(message: str, path: str, key: str | None) -> None:
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"{path}:"), message
    if key is not None:
        assert key in message, (key, message)


def _load(text: str, path: str = "bad.yaml"):
    cfg = parse_config(text, path)
    return build_engine_parts(cfg)


def test_the_generated_cases_cover_every_section_and_key():
    counts = {}
    for category, _, _ in CASES:
        counts[category] = counts.get(category, 0) + 1
    keys = {key for _, _, key in CASES}
    for section, key, _ in _keys():
        assert f"{section}.{key}" in keys, f"no bad-value case for {section}.{key}"
    print("config cases:", counts, "+ malformed YAML", len(MALFORMED))
    assert counts["wrong type"] > 60 and counts["out of range"] > 20 and counts["unknown key"] > 20


@pytest.mark.parametrize(("category", "text", "key"), CASES, ids=[f"{c}:{k}" for c, _, k in CASES])
def test_each_mistake_is_one_line_naming_file_and_key(category, text, key):
    with pytest.raises(ConfigError) as e:
        _load(text)
    _check_one_line(str(e.value), "bad.yaml", key)


@pytest.mark.parametrize("text", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_yaml_is_one_line(text):
    with pytest.raises(ConfigError) as e:
        _load(text)
    _check_one_line(str(e.value), "bad.yaml", None)


def test_a_generator_channel_of_the_wrong_type_is_one_line():
    text = "generators:\n  a: {type: harmony, channel: [1]}\n  b: {type: harmony, channel: [1]}\n"
    with pytest.raises(ConfigError) as e:
        _load(text)
    _check_one_line(str(e.value), "bad.yaml", "generators.a")


yaml_scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
yaml_values = st.recursive(
    yaml_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)


@SETTINGS
@given(data=st.data())
def test_any_value_for_any_key_is_accepted_or_one_line(data):
    section, key, _ = data.draw(st.sampled_from(_keys()))
    value = data.draw(yaml_values)
    text = yaml.safe_dump({section: {key: value}})
    try:
        _load(text)
    except ConfigError as e:
        _check_one_line(str(e), "bad.yaml", None)


@SETTINGS
@given(text=st.text(max_size=200))
def test_any_text_is_accepted_or_one_line(text):
    try:
        _load(text)
    except ConfigError as e:
        _check_one_line(str(e), "bad.yaml", None)


@pytest.mark.parametrize(
    "text",
    [CASES[0][1], CASES[-1][1], MALFORMED[0], MALFORMED[6], "latency:\n  inference_budget: 99999999999\n"],
    ids=["wrong-type", "unknown-section", "bad-yaml", "deep-nesting", "budget-range"],
)
def test_the_command_exits_2_with_one_line(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "--config", str(path), "--server", f"none-{os.getpid()}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"kelly-jack: {path}:"), r.stderr
