"""The YAML configuration: loading, validation with file:line errors, defaults.

``load_config(path)`` reads the file with ``yaml.safe_load`` semantics, checks
every key against ``SCHEMA`` and returns a plain nested dict with every default
filled in. Any mistake raises ``ConfigError`` whose message is one line naming
``file:line``, the dotted key and what is wrong; the CLI prints it and exits 2.

``find_config(arg)`` says which file the commands use (``--config``, else
``$KELLY_JACK_CONFIG``, else ``$XDG_CONFIG_HOME/kelly-jack/studio.yaml``, else the
built-in defaults) and ``load_found_config(arg)`` loads it. The built-in defaults
are what an empty file gives: the shipped model through the rtneural backend and
the harmony generator. ``starter_config()`` is the commented file ``kelly-jack
init`` writes, generated from ``SCHEMA`` and ``SECTION_DEFAULTS``.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import KellyError


class ConfigError(KellyError):
    """A configuration mistake; ``str()`` is the one-line message for the user."""


@dataclass(frozen=True)
class Field:
    """One configuration key: accepted types, default, and an optional check.

    ``kind`` is one of "int", "float", "bool", "str", "str?" (string or null),
    "strlist", "budget" (samples as an int, or a string like "23ms"),
    "channel" ("omni" or 1..16), "mapping" (free-form, checked by its owner).
    ``check(value)`` returns an error text or None.
    """

    kind: str
    default: Any
    check: Any = None
    doc: str = ""


def _range(lo: float, hi: float):
    def check(v):
        return None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}"

    return check


def _choice(*options: str):
    def check(v):
        return None if v in options else f"must be one of {', '.join(options)}, got {v!r}"

    return check


def _port_name(v):
    if not v or ":" in v or len(v) > 200:
        return f"must be a non-empty port name without ':', got {v!r}"
    return None


# --- osc section (kelly_jack/osc/): addresses are checked here, names resolved when the port opens
def _bind_host(v):
    if v == "localhost":
        return None
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return f"must be an IP address (127.0.0.1, ::1, 0.0.0.0 for every interface) or 'localhost', got {v!r}"
    return None


def _osc_targets(v):
    for t in v:
        host, sep, port = t.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:9001
        if not sep or not host or any(c.isspace() for c in host) or not port.isdigit() or not 1 <= int(port) <= 65535:
            return f"each target must be 'host:port' with a port 1..65535, got {t!r}"
    return None


_CC = _range(0, 127)
_CC_OR_OFF = _range(-1, 127)

SCHEMA: dict[str, dict[str, Field]] = {
    "client": {
        "name": Field("str", "kelly", _port_name, "JACK client name"),
        "server": Field("str?", None, None, "JACK server name; null: $JACK_DEFAULT_SERVER or 'default'"),
        "audio_thread": Field(
            "str", "native", _choice("native", "python"), "native cfunc, or python (debug reference)"
        ),
        "reconnect": Field("bool", True, None, "wait for the server to come back when it goes away"),
    },
    "ports": {
        "inputs": Field("int", 2, _range(1, 32), "number of audio inputs"),
        "input_names": Field("strlist", [], None, "names of the inputs; empty: in_1..in_N"),
        "outputs": Field("bool", True, None, "audio outputs out_1..out_N, each input delayed by L"),
        "output_names": Field("strlist", [], None, "names of the outputs; empty: out_1..out_N"),
        "midi_out": Field("str", "midi_out", _port_name, "MIDI output port name"),
        "midi_in": Field("str", "midi_in", _port_name, "MIDI input port name"),
        "pretty_names": Field("bool", True, None, "set JACK metadata pretty names"),
    },
    "connect": {
        "*": Field("strlist", [], None, "port short name -> regex patterns of ports to connect"),
    },
    "analysis": {
        "window": Field("int", 2048, _range(64, 65536), "analysis window in samples at analysis.rate"),
        "hop": Field("int", 1024, _range(16, 65536), "frames between two inferences"),
        "channel": Field("input", "mix", None, "'mix' (mean of inputs) or an input number 1..N"),
        "rate": Field("int", 48000, _range(8000, 384000), "analysis sample rate in Hz (the model's)"),
    },
    "latency": {
        "lookahead_ms": Field("float", 20.0, _range(0, 1000), "lookahead (ML_LOOKAHEAD_MS)"),
        "inference_budget": Field("budget", 1024, None, "samples (int) or milliseconds ('23ms')"),
    },
    "backend": {
        "name": Field("str", "rtneural", None, "backend name; `kelly-jack backends` lists them (heuristic: not ML)"),
        "*": Field("mapping", None, None, "options of the backend"),
    },
    "plugins": {
        "modules": Field("strlist", [], None, "extra plugin modules to import (dotted paths)"),
        "timeout_ms": Field("float", 1000.0, _range(10, 60000), "a backend/generator call hangs after this"),
        "max_failures": Field("int", 20, _range(1, 100000), "failed calls in a row before a plugin is replaced"),
    },
    "emotion": {
        "smoothing_ms": Field("float", 150.0, _range(0, 60000), "one-pole time constant, 0 for none"),
        "user_valence": Field("float", 0.0, _range(-1, 1), "the user's valence"),
        "user_arousal": Field("float", 0.0, _range(-1, 1), "the user's arousal"),
        "blend": Field("float", 1.0, _range(0, 1), "share of the model's values (0: user only)"),
        "ml_enabled": Field("bool", True, None, "use the model at all (enableMLInference)"),
        "mapping": Field("str", "centroid", _choice("centroid", "learned", "auto"), "64 values -> valence/arousal"),
    },
    "midi": {
        "out_channel": Field("int", 1, _range(1, 16), "MIDI channel of the emotion CCs"),
        "send_cc": Field("bool", True, None, "send valence/arousal as CCs"),
        "cc_valence": Field("int", 20, _CC_OR_OFF, "CC number for valence (-1: off)"),
        "cc_arousal": Field("int", 21, _CC_OR_OFF, "CC number for arousal (-1: off)"),
        "cc_min_interval_ms": Field("float", 10.0, _range(0, 10000), "rate limit per controller"),
        "in_channel": Field("channel", "omni", None, "channel listened to on midi_in"),
        "in_cc_valence": Field("int", 22, _CC_OR_OFF, "CC in: user valence"),
        "in_cc_arousal": Field("int", 23, _CC_OR_OFF, "CC in: user arousal"),
        "in_cc_blend": Field("int", 24, _CC_OR_OFF, "CC in: blend amount"),
        "in_cc_ml": Field("int", 25, _CC_OR_OFF, "CC in: ML on (>= 64) / off"),
    },
    "tempo": {
        "bpm": Field("float", 120.0, _range(20, 400), "internal tempo (when not following JACK transport)"),
        "beats_per_bar": Field("float", 4.0, _range(1, 16), "internal meter"),
        "nudge": Field("float", 0.0, _range(0, 1), "share of the internal tempo arousal may add or take"),
        "follow_transport": Field("bool", True, None, "follow JACK transport BBT when it rolls with a timebase master"),
    },
    "generators": {
        "*": Field("mapping", None, None, "instance name -> {type: GENERATOR, channel: 1..16, options}"),
    },
    "osc": {
        "enabled": Field("bool", False, None, "OSC status out and control in (docs/osc.md)"),
        "host": Field("str", "127.0.0.1", _bind_host, "address the control port binds to (loopback by default)"),
        "port": Field("int", 9000, _range(0, 65535), "UDP control port; 0: any free port (printed at start)"),
        "targets": Field("strlist", [], _osc_targets, "'host:port' list the status stream goes to"),
        "rate_hz": Field("float", 10.0, _range(0.1, 100), "status bundles per second"),
    },
}


# Entries of the free-form ("*") sections that a section has while a file does not write it: a file that
# writes the section (even empty) gives exactly what it writes. `kelly-jack init` writes them out.
SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "backend": {"model": "default"},  # the shipped model of the backend (kelly_jack/shipped.py)
    "generators": {"chords": {"type": "harmony", "channel": 2, "key": "C"}},
}
SECTION_DEFAULT_DOCS = {
    "backend.model": "default: the shipped model of the backend; or a model file, relative to this file's folder",
    "generators.chords": "an instance: its type, its channel 1..16, the generator's options",
}
SECTION_DOCS = {  # what `kelly-jack init` says above each section
    "client": "the JACK client",
    "ports": "kelly's JACK ports",
    "connect": "auto-connect at every start: port short name -> regex patterns of ports",
    "analysis": "what the model hears",
    "latency": "kelly's latency L = lookahead + inference budget",
    "backend": "the model and what runs it (the shipped model: models/README.md in the sources)",
    "plugins": "plugin modules and how long a plugin may hang or fail",
    "emotion": "valence/arousal from the model and the user",
    "midi": "CCs out (valence, arousal) and in (user values, blend, ML switch)",
    "tempo": "the generators' clock",
    "generators": "MIDI generators on midi_out, each on its own channel: `kelly-jack generators` lists them; "
    "`generators: {}` for none",
    "osc": "OSC status out and control in (`kelly-jack monitor` reads it)",
}

# The longer text of each key for docs/configuration.md (python -m kelly_jack.docs_gen), where the one-line
# `Field.doc` that `kelly-jack init` writes as a comment is too short. Keys: dotted; free-form entries as
# `section.<placeholder>`.
KEY_DOCS: dict[str, str] = {
    "client.server": "JACK server name; null: `$JACK_DEFAULT_SERVER`, else `default`",
    "client.audio_thread": (
        "`native`: the GIL-free Numba cfunc; `python`: JACK-Client's Python callback calling the same kernel "
        "(a debugging reference: it waits for the GIL whenever another thread holds it)"
    ),
    "client.reconnect": (
        "when the server goes away (its shutdown callback, or no period for 2 s, as with PipeWire), keep "
        "running and wait for a server of the same name: then register the ports again, apply `connect` and "
        "restore every connection kelly had, by full port name. `false`: stop with exit code 1"
    ),
    "ports.inputs": "number of audio inputs (1..32)",
    "ports.input_names": "names of the inputs; empty: `in_1`..`in_N`",
    "ports.outputs": "audio outputs `out_1`..`out_N`, each input delayed by L",
    "ports.output_names": "names of the outputs; empty: `out_1`..`out_N`",
    "connect.<port>": (
        "list of regular expressions (JACK's, POSIX extended) of ports to connect to `<port>` after "
        'activation, e.g. `in_1: ["system:capture_1"]`; a pattern that matches nothing is a warning'
    ),
    "analysis.window": "analysis window (FFT size) in samples at `analysis.rate`",
    "analysis.hop": "frames between two inferences (at most `window`)",
    "analysis.channel": "`mix` (mean of all inputs) or an input number 1..N",
    "analysis.rate": (
        "analysis sample rate in Hz (the model's): on a server at another rate the inference thread resamples"
        " each window to it with soxr, and `kelly-jack features` resamples files to it"
    ),
    "latency.lookahead_ms": "lookahead in ms (the seed's `ML_LOOKAHEAD_MS`)",
    "latency.inference_budget": (
        'the inference budget: samples (an integer, 0..384000) or milliseconds (`"23ms"`, at most 1000)'
    ),
    "backend.name": (
        "the backend ([backends.md](backends.md)); the block's other keys are its options. `backend.model: "
        "default` (the default, and what a `rtneural` or `onnx` block without a `model` key gets) is the "
        "shipped model of that backend (`emotion.rtneural.json`, `emotion.onnx`); a relative path is read "
        "from the config's folder. `heuristic` is the non-ML stub. A config that writes a `backend` block "
        "gets exactly that block"
    ),
    "plugins.modules": "extra plugin modules to import, by dotted path ([plugins.md](plugins.md))",
    "plugins.timeout_ms": (
        "a backend `infer` or generator call still running after this is abandoned, and its plugin replaced "
        "([plugins.md](plugins.md))"
    ),
    "plugins.max_failures": "a plugin that raises or returns garbage this many calls in a row is replaced",
    "emotion.smoothing_ms": "one-pole time constant applied to the model's values; `0`: none",
    "emotion.user_valence": "the user's valence, -1..1",
    "emotion.user_arousal": "the user's arousal, -1..1",
    "emotion.blend": "share of the model's values in what is sent (0: the user's only)",
    "emotion.mapping": (
        "how the model's 64 values become valence/arousal: `centroid` (the softmax-weighted centre of the 8x8"
        " grid; the shipped model measures best so, [models/README.md](../models/README.md)), `learned` (the "
        "model's learned 3x64 valence/arousal/dominance mapping; an error for a model without one), `auto` "
        "(`learned` when the model's metadata ships a mapping, else `centroid`)"
    ),
    "emotion.ml_enabled": "use the model at all (the seed's `enableMLInference`)",
    "midi.out_channel": "MIDI channel (1..16) of the emotion CCs",
    "midi.cc_min_interval_ms": "at most one message per controller in this time",
    "midi.in_channel": "channel listened to on `midi_in`: `omni` or 1..16",
    "midi.in_cc_valence": "CC in: the user's valence (0..127 -> -1..1)",
    "midi.in_cc_arousal": "CC in: the user's arousal",
    "midi.in_cc_blend": "CC in: blend (0: user only .. 127: model only)",
    "midi.in_cc_ml": "CC in: ML on (value >= 64) or off",
    "tempo.bpm": "internal tempo of the generators (20..400), used when JACK transport is not followed",
    "tempo.nudge": "share of the internal tempo arousal may add or take (`bpm * (1 + nudge * arousal)`)",
    "tempo.follow_transport": (
        "follow JACK transport (BBT) when a timebase master exists: its tempo and bar; stopped transport = "
        "silence. kelly never becomes timebase master"
    ),
    "generators.<name>": (
        "a MIDI generator instance: `{type: harmony, channel: 2, key: C}`; the block's other keys are the "
        "generator's options ([generators.md](generators.md)). Each instance plays on its own channel "
        "(`generators: {}`: none)"
    ),
    "osc.enabled": (
        "the OSC control port and status stream ([osc.md](osc.md)); off by default so that several kellys "
        "never fight over one port"
    ),
    "osc.host": (
        "the address the UDP control port binds to: loopback, so only this machine can steer kelly. An IP "
        "address or `localhost`; `0.0.0.0` (or `::`) opens it to every network interface"
    ),
    "osc.port": (
        "UDP control port; `0`: any free port (kelly prints the one it got). A port in use stops kelly at "
        "start with exit code 2 naming this key"
    ),
    "osc.targets": "`host:port` (`[v6]:port`) list of where the status stream goes (names are resolved once, at start)",
    "osc.rate_hz": "status bundles per second, 0.1..100",
    "backend.<option>": "the backend's options ([backends.md](backends.md)); `model`: "
    + SECTION_DEFAULT_DOCS["backend.model"],
}


def defaults() -> dict[str, dict[str, Any]]:
    """The configuration with every default (what an empty file and the built-in defaults give)."""
    cfg = {
        section: {k: _typed(f.kind, f.default)[1] for k, f in fields.items() if k != "*"}
        for section, fields in SCHEMA.items()
    }
    for section, entries in SECTION_DEFAULTS.items():
        cfg[section].update(copy.deepcopy(entries))
    return cfg


MAX_BUDGET_SAMPLES = 384000  # one second at the highest rate JACK servers run at
MAX_BUDGET_MS = 1000.0
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*ms\s*$")


def _typed(kind: str, value: Any) -> tuple[bool, Any]:
    """(ok, normalised value) for ``value`` read as ``kind``."""
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and isinstance(value, int) and abs(value) > 2**53:
            return True, value  # float() of a huge YAML integer overflows: the range check refuses it as it is
        return ok, float(value) if ok else value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "str":
        return isinstance(value, str), value
    if kind == "str?":
        return value is None or isinstance(value, str), value
    if kind == "strlist":
        if isinstance(value, str):
            return True, [value]
        return isinstance(value, list) and all(isinstance(v, str) for v in value), value
    if kind == "budget":
        if isinstance(value, int) and not isinstance(value, bool):
            return 0 <= value <= MAX_BUDGET_SAMPLES, {"samples": value}
        if isinstance(value, str) and (m := _BUDGET.match(value)):
            return float(m.group(1)) <= MAX_BUDGET_MS, {"ms": float(m.group(1))}
        return False, value
    if kind == "channel":
        if value == "omni":
            return True, -1
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16
        return ok, value - 1 if ok else value
    if kind == "input":
        if value == "mix":
            return True, -1
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return ok, value - 1 if ok else value
    if kind == "mapping":
        return True, value
    raise AssertionError(kind)


_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "str?": "a string or null",
    "strlist": "a list of strings",
    "budget": f"a sample count 0..{MAX_BUDGET_SAMPLES} or milliseconds up to {MAX_BUDGET_MS:g} like '23ms'",
    "channel": "'omni' or a MIDI channel 1..16",
    "input": "'mix' or an input number",
}


class _Lines:
    """Line numbers (1-based) of every key, by dotted path, from the YAML node tree."""

    def __init__(self, path: str, root: yaml.Node | None):
        self.path = path
        self.lines: dict[str, int] = {}
        self._walked: set[int] = set()
        if root is not None:
            self._walk(root, "")

    def _walk(self, node: yaml.Node, prefix: str) -> None:
        # an alias is the same node again: walking it once keeps nested aliases (a "billion laughs") linear
        if isinstance(node, yaml.MappingNode) and id(node) not in self._walked:
            self._walked.add(id(node))
            seen = set()
            for key_node, value_node in node.value:
                key = f"{prefix}{key_node.value}"
                if key in seen:
                    raise ConfigError(f"{self.path}:{key_node.start_mark.line + 1}: {key}: duplicate key")
                seen.add(key)
                self.lines[key] = key_node.start_mark.line + 1
                self._walk(value_node, key + ".")

    def error(self, key: str, text: str) -> ConfigError:
        return ConfigError(f"{where({'_source': {'path': self.path, 'lines': self.lines}}, key)}: {key}: {text}")


def parse_config(text: str, path: str = "<config>") -> dict[str, dict[str, Any]]:
    """Validate YAML ``text`` (named ``path`` in errors); raises ConfigError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
        lines = _Lines(path, root)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}:{line}: invalid YAML: {problem}") from None
    except RecursionError:  # PyYAML composes and constructs recursively
        raise ConfigError(f"{path}:1: invalid YAML: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the file must be a mapping of sections ({', '.join(SCHEMA)})")
    cfg = defaults()
    for section, body in data.items():
        if section not in SCHEMA:
            raise lines.error(str(section), f"unknown section (expected one of {', '.join(SCHEMA)})")
        fields = SCHEMA[section]
        for key in SECTION_DEFAULTS.get(section, ()):  # a written section gives exactly what it writes
            del cfg[section][key]
        if body is None:
            continue
        if not isinstance(body, dict):
            raise lines.error(section, "must be a mapping of keys")
        for key, value in body.items():
            dotted = f"{section}.{key}"
            field = fields.get(key) or fields.get("*")
            if not isinstance(key, str):
                raise lines.error(dotted, f"keys must be names (strings), got {key!r}")
            if field is None:
                raise lines.error(dotted, f"unknown key (known: {', '.join(k for k in fields if k != '*')})")
            ok, value = _typed(field.kind, value)
            if not ok:
                raise lines.error(dotted, f"must be {_KIND_TEXT[field.kind]}, got {body[key]!r}")
            if field.check and (problem := field.check(value)):
                raise lines.error(dotted, problem)
            cfg[section][key] = value
    _cross_checks(cfg, lines)
    cfg["_source"] = {"path": path, "lines": lines.lines}
    return cfg


def input_names(cfg: dict) -> list[str]:
    """The audio input port names: ``ports.input_names`` or in_1..in_N."""
    names = cfg["ports"]["input_names"]
    return list(names) if names else [f"in_{i + 1}" for i in range(cfg["ports"]["inputs"])]


def output_names(cfg: dict) -> list[str]:
    """The audio output port names (none when ``ports.outputs`` is false)."""
    if not cfg["ports"]["outputs"]:
        return []
    names = cfg["ports"]["output_names"]
    return list(names) if names else [f"out_{i + 1}" for i in range(cfg["ports"]["inputs"])]


def _cross_checks(cfg: dict, lines: _Lines) -> None:
    ports = cfg["ports"]
    for key in ("input_names", "output_names"):
        names = ports[key]
        if names:
            if len(names) != ports["inputs"]:
                raise lines.error(f"ports.{key}", f"has {len(names)} names for {ports['inputs']} inputs")
            for n in names:
                if problem := _port_name(n):
                    raise lines.error(f"ports.{key}", problem)
    all_ports = input_names(cfg) + output_names(cfg) + [ports["midi_out"], ports["midi_in"]]
    if len(set(all_ports)) != len(all_ports):
        raise lines.error("ports", f"port names must be distinct, got {', '.join(all_ports)}")
    for port, patterns in cfg["connect"].items():
        if port not in all_ports:
            raise lines.error(f"connect.{port}", f"no such port (ports: {', '.join(all_ports)})")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as e:
                raise lines.error(f"connect.{port}", f"bad regular expression {pattern!r}: {e}") from None
    for name, block in cfg["generators"].items():
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise lines.error(f"generators.{name}", "must be a mapping with a 'type' (a generator name)")
    channels = {}
    for name, block in cfg["generators"].items():
        ch = block.get("channel")
        if ch is None or not isinstance(ch, int | float | str):
            continue  # the generator refuses a channel of the wrong type itself, naming the key
        if ch in channels:
            raise lines.error(f"generators.{name}.channel", f"channel {ch} is already used by {channels[ch]!r}")
        channels[ch] = name
    analysis = cfg["analysis"]
    if analysis["hop"] > analysis["window"]:
        raise lines.error("analysis.hop", f"must not exceed analysis.window ({analysis['window']})")
    if analysis["channel"] >= ports["inputs"]:
        raise lines.error("analysis.channel", f"must be 'mix' or an input number 1..{ports['inputs']}")
    in_ccs = ("in_cc_valence", "in_cc_arousal", "in_cc_blend", "in_cc_ml")
    # name a key the user wrote, not the default it collides with
    for key in sorted(in_ccs, key=lambda k: f"midi.{k}" not in lines.lines):
        cc = cfg["midi"][key]
        if cc >= 0 and any(cfg["midi"][k] == cc for k in in_ccs if k != key):
            raise lines.error(f"midi.{key}", f"CC {cc} is used twice on midi_in")


def load_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and validate the YAML file at ``path``; raises ConfigError (never a traceback)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
    return parse_config(text, str(p))


def backend_options(cfg: dict) -> dict[str, Any]:
    """The backend block without its ``name``, its ``model`` resolved; raises ConfigError.

    ``model: default``, or no ``model`` key for a backend that has a shipped model (rtneural, onnx), is the
    shipped model's path; a relative path is taken from the config file's folder.
    """
    from .shipped import DEFAULT, SHIPPED_MODELS, ShippedFileMissing, shipped_model

    name = cfg["backend"]["name"]
    options = {k: v for k, v in cfg["backend"].items() if k != "name"}
    model = options.get("model")
    if model == DEFAULT or (model is None and name in SHIPPED_MODELS):
        if name not in SHIPPED_MODELS:
            raise ConfigError(
                f"{where(cfg, 'backend.model')}: backend.model: 'default' names the shipped model, which only the "
                f"{' and '.join(SHIPPED_MODELS)} backends run (backend {name!r}: name a model file)"
            )
        try:
            options["model"] = str(shipped_model(name))
        except ShippedFileMissing as e:
            raise ConfigError(f"{where(cfg, 'backend.model')}: backend.model: {e}") from None
        return options
    source = cfg.get("_source", {}).get("path", "")
    if isinstance(model, str) and not Path(model).is_absolute() and source and not source.startswith("<"):
        options["model"] = str(Path(source).parent / model)
    return options


# --- where the commands find their config
CONFIG_ENV = "KELLY_JACK_CONFIG"
BUILT_IN = "<built-in defaults>"  # the _source path of the built-in defaults


def user_config_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/kelly-jack/studio.yaml`` (``~/.config`` when XDG_CONFIG_HOME is unset or relative)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and ignored
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "kelly-jack" / "studio.yaml"


def find_config(arg: str | None, env: dict[str, str] | None = None) -> tuple[Path | None, str]:
    """(the config file the commands use, where it came from); (None, "built-in defaults") when there is none.

    ``--config FILE`` (``arg``), else ``$KELLY_JACK_CONFIG`` (a missing file named by either is an error when
    loaded), else ``$XDG_CONFIG_HOME/kelly-jack/studio.yaml`` if it exists, else the built-in defaults.
    """
    env = os.environ if env is None else env
    if arg:
        return Path(arg), "--config"
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), f"${CONFIG_ENV}"
    user = user_config_path(env)
    if user.exists():
        return user, "the user config"
    return None, "built-in defaults"


def load_found_config(arg: str | None, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The config ``find_config`` names, loaded and validated, with ``_source["origin"]`` (``describe_source``
    prints it); raises ConfigError."""
    path, origin = find_config(arg, env)
    cfg = load_config(path) if path is not None else parse_config("", BUILT_IN)
    cfg["_source"]["origin"] = origin
    return cfg


def describe_source(cfg: dict) -> str:
    """Which config is in use, in a few words: ``FILE (--config)``, ``FILE (from $KELLY_JACK_CONFIG)``,
    ``FILE (the user config)`` or the built-in defaults; the start line, render and doctor print it."""
    source = cfg.get("_source", {})
    path, origin = source.get("path", BUILT_IN), source.get("origin")
    if path.startswith("<"):
        return "built-in defaults (the shipped model, the harmony generator)"
    return path + (f" ({'from ' if origin.startswith('$') else ''}{origin})" if origin else "")


def starter_config(version: str = "") -> str:
    """The commented config ``kelly-jack init`` writes: every section and key of ``SCHEMA`` at its default,
    each with its documentation, and the ``SECTION_DEFAULTS`` entries; it parses to ``defaults()``."""
    lines = [
        f"# kelly-jack {version} configuration, written by `kelly-jack init`: every key at its default.".replace(
            "  ", " "
        ),
        "# kelly-jack reads --config FILE, else $KELLY_JACK_CONFIG, else $XDG_CONFIG_HOME/kelly-jack/studio.yaml",
        "# (~/.config/kelly-jack/studio.yaml), else its built-in defaults (the same values as this file).",
        "# Omitted keys take their defaults; `kelly-jack doctor` checks the file and the audio setup.",
    ]
    for section, fields in SCHEMA.items():
        lines += ["", f"{section}:" + (f"  # {SECTION_DOCS[section]}" if section in SECTION_DOCS else "")]
        extras = SECTION_DEFAULTS.get(section, {})
        named = [(k, f.default, f.doc) for k, f in fields.items() if k != "*"]
        named += [(k, v, SECTION_DEFAULT_DOCS.get(f"{section}.{k}", "")) for k, v in extras.items()]
        if not named:
            star = fields["*"]
            lines[-1] = f"{section}: {{}}  # {SECTION_DOCS.get(section, star.doc)}"
            lines.append("#   e.g. connect: {in_1: ['system:capture_1'], midi_out: ['Carla:events-in']}")
            continue
        for key, value, doc in named:
            text = yaml.safe_dump({key: value}, default_flow_style=True, width=1000, sort_keys=False).strip()
            lines.append(f"  {text[1:-1]}" + (f"  # {doc}" if doc else ""))
    return "\n".join(lines) + "\n"


def plugin_limits(cfg: dict) -> dict[str, Any]:
    """``timeout_s`` and ``max_failures`` for the inference thread and the generator runner."""
    p = cfg["plugins"]
    return {"timeout_s": p["timeout_ms"] / 1000.0, "max_failures": p["max_failures"]}


def generator_options(cfg: dict, name: str) -> tuple[str, dict[str, Any]]:
    """(generator type, its options without ``type``) of the instance ``name`` under ``generators``."""
    block = cfg["generators"][name]
    return block["type"], {k: v for k, v in block.items() if k != "type"}


def where(cfg: dict, key: str) -> str:
    """``file:line`` of dotted ``key`` (or of its nearest written parent) in the file ``cfg`` came from."""
    source = cfg.get("_source", {"path": "<config>", "lines": {}})
    probe = key
    while probe and probe not in source["lines"]:
        probe = probe.rpartition(".")[0]
    return f"{source['path']}:{source['lines'].get(probe, 1)}"
