"""``kelly-jack model ...``: what a model file is, running it, converting it.

* ``model info [MODEL]``: what a model file is (sizes, parameters, layout version); with no MODEL, the
  model of the config every command finds (``--config`` aside: ``$KELLY_JACK_CONFIG``, the user config,
  else the built-in defaults, i.e. the shipped model);
* ``model run MODEL --input X --output Y``: the rows of X (.npy or .csv) as
  consecutive steps from a reset state, written to Y (.npy or .csv), so an
  export can be checked against its training framework; for a backend that
  hears audio (``--backend NAME``, no MODEL when it needs no file), X is an audio
  file and Y has one row per window;
* ``model convert MODEL.onnx -o MODEL.json``: an ONNX graph of the ops
  RTNeural's layers cover, as RTNeural JSON (anything else refused by op name).

Errors are UsageErrors (one line on stderr and exit code 2); outputs are written to a
temporary file first and renamed, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from ..backends import BackendError, create_backend
from ..errors import UsageError
from ..io import atomic_write
from ..plugins import backend_for_file, load_plugins

GROUP = "tools for model and plugin authors"


def _backend_for(model: str | None, name: str | None, plugins):
    """The backend ``name`` (else the one the file suffix names) on ``model`` (None: a backend without a file)."""
    if model is None and name is None:
        raise UsageError("model run: give a model file, or --backend for a backend that needs none")
    name = name or backend_for_file(model, plugins)
    if name is None:
        raise UsageError(f"{model}: cannot tell the backend from the file name; use --backend")
    try:
        return create_backend(name, {} if model is None else {"model": model}, plugins)
    except BackendError as e:
        raise UsageError(str(e)) from None


def _read_matrix(path: str, columns: int) -> np.ndarray:
    p = Path(path)
    try:
        data = np.load(p) if p.suffix == ".npy" else np.loadtxt(p, delimiter=",", ndmin=2)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read ({e})") from None
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data.reshape(1, -1)
    if data.ndim != 2 or data.shape[1] != columns:
        raise UsageError(f"{path}: shape {data.shape}, expected (steps, {columns})")
    return data


def _write_matrix(path: str, data: np.ndarray) -> None:
    buf = io.BytesIO()
    if Path(path).suffix == ".npy":
        np.save(buf, data)
    else:
        np.savetxt(buf, data, delimiter=",", fmt="%.9g")
    atomic_write(path, buf.getvalue())


def _configured_backend(args):
    """The backend of the config the commands find (the shipped model under the built-in defaults)."""
    from ..config import ConfigError, backend_options, describe_source, load_found_config

    try:
        cfg = load_found_config(None)
        options = backend_options(cfg)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    plugins = load_plugins(cfg["plugins"]["modules"])
    try:
        backend = create_backend(args.backend or cfg["backend"]["name"], options, plugins)
    except BackendError as e:
        raise UsageError(str(e)) from None
    print(f"config: {describe_source(cfg)}")
    if "model" in options:
        print(f"model: {options['model']}")
    return backend


def cmd_info(args, plugins) -> int:
    backend = _configured_backend(args) if args.model is None else _backend_for(args.model, args.backend, plugins)
    meta = {"input size": backend.input_size, "output size": backend.output_size, **backend.metadata}
    for key, value in meta.items():
        if key == "emotion_mapping":
            value = "none (8x8 grid centroid)" if value is None else f"{np.asarray(value).shape} matrix"
        print(f"{key}: {value}")
    return 0


def cmd_run(args, plugins) -> int:
    backend = _backend_for(args.model, args.backend, plugins)
    if getattr(backend, "input_kind", "features") == "audio":
        return _run_over_audio(backend, args)
    x = _read_matrix(args.input, backend.input_size)
    backend.reset()
    y = np.asarray(backend.infer_block(x), dtype=np.float32)
    _write_matrix(args.output, y)
    print(f"{args.output}: {y.shape[0]} steps x {y.shape[1]} values", file=sys.stderr)
    return 0


def _run_over_audio(backend, args) -> int:
    """An audio-input backend over the audio file ``--input``: one output row per window."""
    from ..io import AudioFileError
    from ..offline.audio_windows import audio_model_outputs

    try:
        ends, y = audio_model_outputs(backend, Path(args.input))
    except AudioFileError as e:
        raise UsageError(str(e)) from None
    _write_matrix(args.output, y)
    rate, window, hop = backend.audio_rate, backend.audio_window, backend.audio_hop
    print(
        f"{args.output}: {y.shape[0]} windows x {y.shape[1]} values ({window} samples at {rate} Hz every {hop}; "
        f"the first ends at {ends[0]:.3f} s)",
        file=sys.stderr,
    )
    return 0


def cmd_convert(args, plugins) -> int:
    from ..backends.rtneural.convert import ConversionError, convert_file

    if not args.model.lower().endswith(".onnx"):
        raise UsageError(f"{args.model}: expected an .onnx file")
    try:
        doc = convert_file(args.model, args.output)
    except ConversionError as e:
        raise UsageError(f"{args.model}: cannot convert: {e}") from None
    kinds = ", ".join(layer["type"] for layer in doc["layers"])
    print(f"{args.output}: {len(doc['layers'])} layers ({kinds})", file=sys.stderr)
    return 0


def plugins_found():
    """Every plugin, its problems printed as warnings (one line each)."""
    plugins = load_plugins()
    for problem in plugins.errors:
        print(f"kelly-jack: warning: {problem}", file=sys.stderr)
    return plugins


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "model", help="inspect, run or convert a model file", description="Inspect, run or convert a model."
    )
    model = p.add_subparsers(dest="action", required=True)
    info = model.add_parser(
        "info",
        help="sizes, parameters and layout version of a model file "
        "(default: the configured model, else the shipped one)",
    )
    run = model.add_parser(
        "run", help="run a model over the rows of X (.npy/.csv) as consecutive steps, or over an audio file"
    )
    info.add_argument(
        "model",
        nargs="?",
        help="model file (.onnx, .json, .tflite); default: the model of the config in use ($KELLY_JACK_CONFIG, else "
        "~/.config/kelly-jack/studio.yaml, else the shipped model)",
    )
    run.add_argument("model", nargs="?", help="model file (.onnx, .json, .tflite); none for a --backend without one")
    for q in (info, run):
        q.add_argument("--backend", help="backend name (default: from the file suffix)")
    convert = model.add_parser("convert", help="convert an ONNX graph of RTNeural-shaped layers to RTNeural JSON")
    convert.add_argument("model", help="the .onnx file")
    convert.add_argument("-o", "--output", required=True, help="the .json file to write")
    run.add_argument(
        "--input",
        required=True,
        metavar="X",
        help="steps x inputs (.npy or .csv); for a backend that hears audio, an audio file (its windows, every hop)",
    )
    run.add_argument("--output", required=True, metavar="Y", help="where to write steps x outputs (.npy or .csv)")
    info.set_defaults(func=lambda args: cmd_info(args, plugins_found()))
    run.set_defaults(func=lambda args: cmd_run(args, plugins_found()))
    convert.set_defaults(func=lambda args: cmd_convert(args, plugins_found()))
    return p
