"""Configuration: defaults, the shipped studio.yaml, and one-line file:line errors for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelly_jack.config import (
    SCHEMA,
    ConfigError,
    backend_options,
    defaults,
    input_names,
    load_config,
    parse_config,
    starter_config,
)
from kelly_jack.shipped import CHECKOUT_MODELS, shipped_model

ROOT = Path(__file__).resolve().parent.parent


def test_studio_yaml_is_valid_and_equals_the_built_in_defaults():
    cfg = load_config(ROOT / "config" / "studio.yaml")
    for section, body in defaults().items():
        assert cfg[section] == body, f"studio.yaml's {section} differs from the built-in defaults"


def test_every_key_is_documented_in_docs_configuration():
    readme = (ROOT / "docs" / "configuration.md").read_text()
    for section, fields in SCHEMA.items():
        for key in fields:
            if key != "*":
                assert f"`{section}.{key}`" in readme, f"{section}.{key} is not in docs/configuration.md's table"


def test_defaults_run_the_shipped_model_and_the_harmony_generator():
    cfg = parse_config("", "<built-in defaults>")
    assert cfg["backend"] == {"name": "rtneural", "model": "default"}
    assert [g["type"] for g in cfg["generators"].values()] == ["harmony"]
    assert backend_options(cfg) == {"model": str(CHECKOUT_MODELS / "emotion.rtneural.json")}  # a checkout
    # a config that writes a free-form section gets exactly what it writes
    cfg = parse_config("backend: {name: heuristic}\ngenerators: {}\n", "x.yaml")
    assert cfg["backend"] == {"name": "heuristic"} and cfg["generators"] == {} and backend_options(cfg) == {}
    assert parse_config("generators:\n", "x.yaml")["generators"] == {}
    arp = parse_config("generators:\n  a: {type: arp, channel: 3}\n", "x.yaml")["generators"]
    assert arp == {"a": {"type": "arp", "channel": 3}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("backend: {name: onnx}\n", "emotion.onnx"),  # no model key: the backend's shipped model
        ("backend: {name: onnx, model: default}\n", "emotion.onnx"),
        ("backend: {model: default}\n", "emotion.rtneural.json"),
        ("backend: {name: rtneural, model: m/my.json}\n", "REL"),  # relative: from the config's folder
        ("backend: {name: rtneural, model: /abs/my.json}\n", "/abs/my.json"),
    ],
)
def test_model_default_and_relative_paths(tmp_path, text, expected):
    path = tmp_path / "conf" / "k.yaml"
    path.parent.mkdir()
    path.write_text(text)
    model = backend_options(load_config(path))["model"]
    if expected == "REL":
        assert model == str(path.parent / "m" / "my.json")
    elif expected.startswith("/"):
        assert model == expected
    else:
        assert model == str(shipped_model("onnx" if "onnx" in expected else "rtneural")) and model.endswith(expected)


def test_model_default_for_a_backend_without_a_shipped_model_is_one_line():
    cfg = parse_config("backend:\n  name: heuristic\n  model: default\n", "k.yaml")
    with pytest.raises(ConfigError) as e:
        backend_options(cfg)
    assert str(e.value).startswith("k.yaml:3: backend.model: 'default' names the shipped model") and "\n" not in str(e)


def test_starter_config_is_generated_from_the_schema_and_parses_to_the_defaults():
    text = starter_config("9.9")
    cfg = parse_config(text, "init.yaml")
    del cfg["_source"]
    assert cfg == defaults()
    blocks = {block.split(":")[0]: block for block in text.split("\n\n")[1:]}
    assert list(blocks) == list(SCHEMA)
    for section, fields in SCHEMA.items():
        for key, field in fields.items():
            if key != "*":
                line = next(line for line in blocks[section].splitlines() if line.startswith(f"  {key}:"))
                assert line.endswith(f"  # {field.doc}"), (section, key)
    assert text.startswith("# kelly-jack 9.9 configuration")


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
