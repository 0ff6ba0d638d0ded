"""The ``tflite`` backend: a TFLite model run by LiteRT (``ai-edge-litert``, no TensorFlow).

Options (the config's ``backend`` block):

* ``model`` (required): path to the .tflite file;
* ``input`` / ``output``: tensor names to use when the graph has several;
* ``xnnpack``: run through LiteRT's default XNNPACK delegate (default false:
  the builtin kernels, which on the shipped model take about 8 µs a hop here
  and print nothing at load; the delegate halves that and logs a line).

The interpreter runs with one thread. Its input must take 128 float32 features
(shape ``[128]`` or ``[1, 128]``) and its output give 64 float32 values, unless
its metadata says otherwise: ``kelly_jack.input: audio`` (with
``kelly_jack.sample_rate``, ``window`` and ``hop``: the model hears that many
samples of mono audio at that rate, shape ``[window]`` or ``[1, window]``; see
"Backends that hear audio" in docs/plugins.md) and ``kelly_jack.output:
valence_arousal`` (2 or 3 values instead of the grid).
Metadata entries named ``kelly_jack.*`` (``model_meta``: layout version, rate,
window, hop, mapping, emotion_mapping, training data) are read when present;
``kelly_jack.state`` names ``[input, output]`` pairs of recurrent state, each a
float32 tensor of fixed shape, which the backend feeds back from call to call
and zeroes at load and on ``reset()``, as the onnx backend does.
``writer.tflite_bytes`` makes such files from RTNeural JSON.

``infer`` runs on the inference thread's plugin worker (one caller at a time;
``invoke`` releases the GIL). Loading raises ``BackendError`` with one line,
including when ai-edge-litert is not installed (``pip install 'kelly-jack[tflite]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...hookspecs import BackendFactory, hookimpl
from .. import model_file, model_meta
from ..base import EMOTIONS, FEATURES, BackendBase, BackendError, pick_tensor, take_options
from .writer import read_model

NAME = "tflite"
MAX_TFLITE_BYTES = 2**30  # LiteRT maps the file itself; it is only checked


def _shape(details: dict) -> list[int]:
    """A tensor's shape from LiteRT's details, as plain ints (they come as numpy int32)."""
    return [int(d) for d in details["shape"]]


class TfliteBackend(BackendBase):
    name = NAME
    spec = {"model": (str, ...), "input": (str, ""), "output": (str, ""), "xnnpack": (bool, False)}

    def __init__(self, options: dict[str, Any]):
        o = take_options(NAME, options, self.spec)
        self.path, where = model_file.checked_model(NAME, o["model"], MAX_TFLITE_BYTES)
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise BackendError(f"{where}: {e}", "model") from None
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise BackendError(
                f"{where}: the tflite backend needs ai-edge-litert: pip install 'kelly-jack[tflite]'"
            ) from None
        try:
            props, self._parameters = read_model(data)
        except Exception as e:  # a truncated or foreign flatbuffer fails in the schema reader
            raise BackendError(f"{where}: not a TFLite model: {str(e).splitlines()[0]}", "model") from None
        try:
            self._meta = model_meta.read(props, kinds=True)
        except ValueError as e:
            raise BackendError(f"{where}: {e}") from None
        resolver = OpResolverType.AUTO if o["xnnpack"] else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interpreter = Interpreter(model_content=data, num_threads=1, experimental_op_resolver_type=resolver)
            self.interpreter.allocate_tensors()
        except Exception as e:
            raise BackendError(f"{where}: LiteRT cannot load it: {str(e).splitlines()[0]}") from None
        ins = {d["name"]: d for d in self.interpreter.get_input_details()}
        outs = {d["name"]: d for d in self.interpreter.get_output_details()}
        pairs = self._meta["state"] or []
        self._state = self._state_tensors(pairs, ins, outs, where)  # input index -> (output index, value)
        state_ins, state_outs = {i for i, _ in pairs}, {out for _, out in pairs}
        self._input = pick_tensor([(n, d) for n, d in ins.items() if n not in state_ins], o["input"], "input", where)
        self._output = pick_tensor(
            [(n, d) for n, d in outs.items() if n not in state_outs], o["output"], "output", where
        )
        self._declare_kinds(where)
        self._check(where)
        self.layout_version = self._meta["layout_version"]
        self._mapping = self._meta["emotion_mapping"]
        self._feed = np.zeros(self._input["shape"], dtype=np.float32)

    def _declare_kinds(self, where: str) -> None:
        """What the model hears and says, from its ``kelly_jack.input`` / ``kelly_jack.output`` metadata."""
        self.input_kind, self.output_kind = self._meta["input_kind"], self._meta["output_kind"]
        self.input_size = FEATURES
        self.output_size = int(np.prod(self._output["shape"]))
        if self.input_kind == "audio":
            rate, window, hop = (self._meta[k] for k in ("sample_rate", "window", "hop"))
            if None in (rate, window, hop):
                raise BackendError(f"{where}: an audio-input model needs kelly_jack.sample_rate, window and hop")
            self.audio_rate, self.audio_window, self.audio_hop = rate, window, hop
            self.input_size = window

    def _check(self, where: str) -> None:
        i, o = self._input, self._output
        if i["dtype"] != np.float32:
            raise BackendError(f"{where}: input {i['name']!r} is {np.dtype(i['dtype']).name}, expected float32")
        n = self.input_size
        if _shape(i) not in ([n], [1, n]):
            raise BackendError(f"{where}: input {i['name']!r} has shape {_shape(i)}, expected [{n}] or [1, {n}]")
        wanted = "64" if self.output_kind == "grid" else "2 or 3"
        if o["dtype"] != np.float32 or self.output_size not in ((EMOTIONS,) if wanted == "64" else (2, 3)):
            raise BackendError(
                f"{where}: output {o['name']!r} is {np.dtype(o['dtype']).name} {_shape(o)}, expected {wanted} float32"
            )

    @staticmethod
    def _state_tensors(pairs, ins: dict, outs: dict, where: str) -> dict[int, list]:
        """Zeroed state of the ``kelly_jack.state`` pairs, checked against the graph; raises BackendError."""
        state = {}
        for i, o in pairs:
            if i not in ins or o not in outs:
                missing = f"input {i!r}" if i not in ins else f"output {o!r}"
                raise BackendError(f"{where}: kelly_jack.state names {missing}, which the graph does not have")
            a, b = ins[i], outs[o]
            if a["dtype"] != np.float32 or _shape(a) != _shape(b):
                raise BackendError(
                    f"{where}: state {i!r} -> {o!r} is {_shape(a)} -> {_shape(b)}, expected float32 of one shape"
                )
            state[a["index"]] = [b["index"], np.zeros(a["shape"], dtype=np.float32)]
        return state

    @property
    def recurrent(self) -> bool:
        """Whether the model carries state from call to call (``kelly_jack.state``)."""
        return bool(self._state)

    def reset(self) -> None:
        """Zero the recurrent state (no-op for a stateless model)."""
        for _, value in self._state.values():
            value[...] = 0.0

    def infer(self, features: np.ndarray) -> np.ndarray:
        it = self.interpreter
        self._feed.reshape(-1)[:] = features
        it.set_tensor(self._input["index"], self._feed)
        for index, (_, value) in self._state.items():
            it.set_tensor(index, value)
        it.invoke()
        for slot in self._state.values():
            slot[1] = it.get_tensor(slot[0])
        return it.get_tensor(self._output["index"]).reshape(-1)

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "name": NAME,
            "file": str(self.path),
            "parameters": self._parameters,
            "layout_version": self.layout_version,
            "emotion_mapping": self._mapping,
            "input": f"{self._input['name']} {_shape(self._input)}",
            "output": f"{self._output['name']} {_shape(self._output)}",
            "recurrent": self.recurrent,
            **{k: v for k, v in self._meta.items() if k not in ("layout_version", "emotion_mapping", "state")},
        }


@hookimpl
def kelly_jack_backends() -> list[BackendFactory]:
    return [
        BackendFactory(NAME, TfliteBackend, "a TFLite model run by LiteRT (ai-edge-litert, 1 thread)", (".tflite",))
    ]
