"""Architecture descriptions: a small YAML file saying how to run PyTorch state_dicts (or a Keras JSON).

A PyTorch state_dict holds weights but not the network, so the rtneural
backend reads it through a description (docs/backends.md, "RTNeural architecture
descriptions")::

    state_dict: gru_torch.json        # or {alias: file, ...}: parameters become alias.name
    inputs: 1                         # values per step into the first layer
    layers:
      - {type: gru, prefix: gru}
      - {type: gru, prefix: gru2, num_layers: 3}
      - {type: dense, prefix: dense}

or, for a Keras-format file and how to read it::

    keras: conv_stateless.json
    mode: frame                       # stream (default) or frame (frame.py)

Relative paths are taken from the description's folder. Layer types and their
keys are in ``torch_layers.py``; ``{type: sum, branches: [[...], [...]]}`` adds
the outputs of branches run on the same input (``residual.py``). Unknown keys,
missing or mis-shaped parameters and parameters no layer uses are all
``ModelError`` naming the layer entry (``layers[2]``, ``layers[0].branches[1][0]``),
the parameter and its file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import model_file
from .errors import ModelError
from .frame import FrameModel
from .model import MODES, Model, keras_model, read_json
from .residual import Sum
from .state_dict import StateDict
from .torch_layers import BUILDERS, build

TOP_KEYS = {"state_dict", "inputs", "layers", "keras", "mode"}


def read_description(path: Path):
    """The parsed YAML of the description at ``path`` (any YAML value); raises ModelError."""
    try:
        return model_file.safe_yaml(model_file.read_text(path, model_file.MAX_DESCRIPTION_BYTES))
    except FileNotFoundError:
        raise ModelError("no such file") from None
    except model_file.FileTooLarge as e:
        raise ModelError(str(e)) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ModelError(f"not a readable YAML file ({' '.join(str(e).split())})") from None


def load_architecture(path: Path, mode: str | None = None, doc=None) -> Model | FrameModel:
    """Load the model a description at ``path`` describes; ``mode`` (backend option) must agree with its own.

    ``doc``: the description already parsed (``read_description``), or None to read it here.
    """
    if doc is None:
        doc = read_description(path)
    if not isinstance(doc, dict):
        raise ModelError("an architecture description is a mapping with 'state_dict' or 'keras'")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ModelError(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: {', '.join(sorted(TOP_KEYS))})"
        )
    own = doc.get("mode")
    if own is not None and own not in MODES:
        raise ModelError(f"unknown mode {own!r} (known: {', '.join(MODES)})")
    if own is not None and mode is not None and own != mode:
        raise ModelError(f"the description says mode {own!r} but the backend option says {mode!r}")
    mode = own or mode or "stream"
    base = path.parent
    if "keras" in doc:
        if "state_dict" in doc or "layers" in doc:
            raise ModelError("'keras' names a complete model: drop 'state_dict' and 'layers'")
        keras = _file(doc["keras"], base, "keras")
        try:
            return keras_model(_keras_doc(keras), mode)
        except ModelError as e:
            raise ModelError(f"{keras.name}: {e}") from None
    if mode != "stream":
        raise ModelError("mode 'frame' is for Keras-format models ('keras'), not state_dicts")
    for key in ("state_dict", "inputs", "layers"):
        if key not in doc:
            raise ModelError(f"missing {key!r}")
    sd = _state_dict(doc["state_dict"], base)
    inputs = doc["inputs"]
    if not isinstance(inputs, int) or isinstance(inputs, bool) or inputs < 1:
        raise ModelError(f"'inputs' must be a positive integer, got {inputs!r}")
    layers, kinds = _chain(doc["layers"], sd, "layers", inputs)
    if not layers:
        raise ModelError("'layers' is empty")
    unused = sd.unused()
    if unused:
        raise ModelError(f"parameters no layer uses (missing from 'layers'?): {', '.join(unused)}")
    return Model(layers, inputs, kinds)


def _keras_doc(path: Path) -> dict:
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise ModelError("not an RTNeural Keras-format model: no 'layers' list")
    return doc


def _file(value, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ModelError(f"'{key}' must be a file path, got {value!r}")
    return base / value


def _state_dict(value, base: Path) -> StateDict:
    sd = StateDict()
    files = value if isinstance(value, dict) else {"": value}
    for alias, name in files.items():
        if not isinstance(alias, str) or (isinstance(value, dict) and not alias) or "." in alias:
            raise ModelError(f"state_dict alias {alias!r} must be a non-empty name without dots")
        path = _file(name, base, "state_dict")
        try:
            sd.add_file(path, alias, read_json)
        except ModelError as e:
            message = str(e)
            raise ModelError(message if message.startswith("state_dict") else f"state_dict {name}: {message}") from None
    return sd


def _chain(entries, sd: StateDict, where: str, size: int) -> tuple[list, list[str]]:
    """Layers for a list of entries, each fed the previous one's output size."""
    if not isinstance(entries, list):
        raise ModelError(f"{where} must be a list of layers")
    layers, kinds = [], []
    for index, entry in enumerate(entries):
        here = f"{where}[{index}]"
        kind = entry.get("type") if isinstance(entry, dict) else None
        prefix = entry.get("prefix") if isinstance(entry, dict) else None
        label = f"{here} ({kind}{f' {prefix!r}' if prefix else ''})"
        if kind == "sum":
            layer, kind_text = _sum(entry, sd, here, size)
            pairs = [(layer, kind_text)]
        elif kind in BUILDERS:
            pairs = build(entry, sd, label, size)
        else:
            raise ModelError(f"{label}: unknown layer type {kind!r} (known: {', '.join([*BUILDERS, 'sum'])})")
        for layer, k in pairs:
            layers.append(layer)
            kinds.append(k)
            size = layer.out_size
    return layers, kinds


def _sum(entry: dict, sd: StateDict, where: str, size: int):
    branches = entry.get("branches")
    if set(entry) - {"type", "branches"}:
        raise ModelError(f"{where} (sum): takes only 'branches'")
    if not isinstance(branches, list) or len(branches) < 2:
        raise ModelError(f"{where} (sum): 'branches' must list at least two branches (lists of layers)")
    built, texts, sizes = [], [], []
    for b, branch in enumerate(branches):
        layers, kinds = _chain(branch, sd, f"{where}.branches[{b}]", size)
        built.append(layers)
        texts.append(", ".join(kinds) or "identity")
        sizes.append(layers[-1].out_size if layers else size)
    if len(set(sizes)) != 1:
        raise ModelError(f"{where} (sum): branches give different sizes {sizes}")
    return Sum(built, size), f"sum({' | '.join(texts)})"
