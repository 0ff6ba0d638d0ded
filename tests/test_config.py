"""Configuration: defaults, the shipped studio.yaml, and one-line file:line errors for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelly_jack.config import ConfigError, defaults, input_names, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_studio_yaml_is_valid_and_documents_every_default():
    cfg = load_config(ROOT / "config" / "studio.yaml")
    d = defaults()
    for section, body in d.items():
        for key, value in body.items():
            if (section, key) == ("backend", "name"):
                continue  # studio.yaml names the shipped model; the default (no model file to name) is heuristic
            assert cfg[section][key] == value, f"studio.yaml {section}.{key} differs from the default"


def test_every_key_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for section, body in defaults().items():
        for key in body:
            assert f"`{section}.{key}`" in readme, f"{section}.{key} is not in the README's config table"


def test_empty_file_gives_defaults():
    cfg = parse_config("", "x.yaml")
    assert cfg["client"]["name"] == "kelly"
    assert cfg["latency"]["inference_budget"] == {"samples": 1024}
    assert cfg["midi"]["in_channel"] == -1
    assert cfg["analysis"]["channel"] == -1
    assert input_names(cfg) == ["in_1", "in_2"]


def test_values_are_normalised():
    cfg = parse_config(
        "latency: {inference_budget: '23ms'}\nmidi: {in_channel: 3}\nports: {inputs: 1, input_names: [left]}\n"
        "connect: {left: 'system:capture_1'}\nanalysis: {channel: 1}\n",
        "x.yaml",
    )
    assert cfg["latency"]["inference_budget"] == {"ms": 23.0}
    assert cfg["midi"]["in_channel"] == 2  # 0-based on the wire
    assert input_names(cfg) == ["left"]
    assert cfg["analysis"]["channel"] == 0
    assert cfg["connect"]["left"] == ["system:capture_1"]


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("client:\n  nmae: x\n", 2, "client.nmae", "unknown key"),
        ("clients:\n  name: x\n", 1, "clients", "unknown section"),
        ("ports:\n  inputs: two\n", 2, "ports.inputs", "must be an integer"),
        ("ports:\n  inputs: true\n", 2, "ports.inputs", "must be an integer"),
        ("ports:\n  inputs: 0\n", 2, "ports.inputs", "between 1 and 32"),
        ("emotion:\n  blend: 1.5\n", 2, "emotion.blend", "between 0 and 1"),
        ("client:\n  audio_thread: rust\n", 2, "client.audio_thread", "one of native, python"),
        ("latency:\n  inference_budget: soon\n", 2, "latency.inference_budget", "sample count"),
        ("midi:\n  in_channel: 17\n", 2, "midi.in_channel", "1..16"),
        ("connect:\n  in_9: [x]\n", 2, "connect.in_9", "no such port"),
        ("connect:\n  in_1: ['(']\n", 2, "connect.in_1", "bad regular expression"),
        ("analysis:\n  window: 512\n  hop: 1024\n", 3, "analysis.hop", "must not exceed"),
        ("analysis:\n  channel: 3\n", 2, "analysis.channel", "1..2"),
        ("ports:\n  inputs: 2\n  input_names: [a]\n", 3, "ports.input_names", "1 names for 2 inputs"),
        ("ports:\n  midi_out: a:b\n", 2, "ports.midi_out", "without ':'"),
        ("midi:\n  in_cc_blend: 22\n", 2, "midi.in_cc_blend", "used twice"),
        ("client:\n  name: a\n  name: b\n", 3, "client.name", "duplicate key"),
        ("client: [1, 2]\n", 1, "client", "must be a mapping"),
    ],
)
def test_mistakes_name_file_line_and_key(text, line, key, words):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "studio.yaml")
    message = str(e.value)
    assert message.startswith(f"studio.yaml:{line}: {key}"), message
    assert words in message
    assert "\n" not in message


def test_invalid_yaml_names_the_line():
    with pytest.raises(ConfigError, match=r"^s.yaml:3: invalid YAML"):
        parse_config("client:\n  name: x\n  - y\n", "s.yaml")


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        parse_config("- 1\n", "s.yaml")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
