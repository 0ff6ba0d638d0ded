"""The ``onnx`` backend: a model file run by onnxruntime.

Options (the config's ``backend`` block):

* ``model`` (required): path to the .onnx file;
* ``providers``: execution providers in order of preference (default
  ``["CPUExecutionProvider"]``); an unavailable one is a load error;
* ``input`` / ``output``: names to use when the graph has several.

The session runs with one intra-op and one inter-op thread, sequential
execution and full graph optimisation, so it never competes with the audio
thread for more than one core. onnxruntime releases the GIL inside ``run``.
The input must take 128 float features (shape ``[128]`` or ``[batch, 128]``,
batch fixed to 1 or dynamic) and the output give 64 values. Metadata props
``kelly_jack.*`` (``model_meta``: layout version, rate, window, hop, mapping,
emotion_mapping, training data) are read when present.

A recurrent model names its state tensors in the metadata key
``kelly_jack.state`` (``[[input, output], ...]``, written by
``kelly_jack.training.export_gru``): each state input must be a float tensor of
fixed shape, with an output of that name and shape. The backend feeds each
state output back into its input on the next call (zeros at load and after
``reset()``), so ``infer`` streams one hop at a time; ``infer_block`` with a
dynamic batch gives the graph all rows at once, which must then run them in
order (its batch axis is time). Those inputs and outputs are not candidates
for ``input`` / ``output``. State lives in the backend object: one caller at a
time (the inference thread's plugin worker calls ``infer`` and ``reset``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..hookspecs import BackendFactory, hookimpl
from . import model_file, model_meta
from .base import EMOTIONS, FEATURES, BackendBase, BackendError, pick_tensor, take_options

NAME = "onnx"


def _last_dim(shape) -> Any:
    return shape[-1] if shape else None


class OnnxBackend(BackendBase):
    name = NAME
    spec = {"model": (str, ...), "providers": (list, ["CPUExecutionProvider"]), "input": (str, ""), "output": (str, "")}

    def __init__(self, options: dict[str, Any]):
        o = take_options(NAME, options, self.spec)
        self.path, where = model_file.checked_model(NAME, o["model"], model_file.MAX_ONNX_BYTES)
        import onnxruntime as ort  # here, not at import: ~30 MB that a start on another backend saves

        missing = [p for p in o["providers"] if p not in ort.get_available_providers()]
        if missing:
            raise BackendError(
                f"{where}: execution provider {missing[0]} is not available "
                f"(available: {', '.join(ort.get_available_providers())})",
                "providers",
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=so, providers=o["providers"])
        except Exception as e:
            raise BackendError(f"{where}: onnxruntime cannot load it: {str(e).splitlines()[0]}") from None
        try:
            self._meta = model_meta.read(self.session.get_modelmeta().custom_metadata_map)
        except ValueError as e:
            raise BackendError(f"{where}: {e}") from None
        pairs = self._meta["state"] or []
        self._state = self._state_tensors(pairs, where)  # input name -> its current value
        inputs = [a for a in self.session.get_inputs() if a.name not in {i for i, _ in pairs}]
        outputs = [a for a in self.session.get_outputs() if a.name not in {o for _, o in pairs}]
        self._input = pick_tensor([(a.name, a) for a in inputs], o["input"], "input", where)
        self._output = pick_tensor([(a.name, a) for a in outputs], o["output"], "output", where)
        self._check(where)
        self._state_outputs = [out for _, out in pairs]
        self._fetch = [self._output.name, *self._state_outputs]
        self.layout_version = self._meta["layout_version"]
        self._mapping = self._meta["emotion_mapping"]
        self._feed = np.zeros(self._feed_shape(1), dtype=np.float32)

    def _check(self, where: str) -> None:
        i, o = self._input, self._output
        if i.type != "tensor(float)":
            raise BackendError(f"{where}: input {i.name!r} is {i.type}, expected tensor(float)")
        if len(i.shape) not in (1, 2) or _last_dim(i.shape) != FEATURES:
            raise BackendError(f"{where}: input {i.name!r} has shape {i.shape}, expected [128] or [batch, 128]")
        if len(i.shape) == 2 and isinstance(i.shape[0], int) and i.shape[0] != 1:
            raise BackendError(f"{where}: input {i.name!r} has a fixed batch of {i.shape[0]}, expected 1 or dynamic")
        if _last_dim(o.shape) != EMOTIONS:
            raise BackendError(f"{where}: output {o.name!r} has shape {o.shape}, expected 64 values per step")
        self.output_size = EMOTIONS
        self._dynamic_batch = len(i.shape) == 2 and not isinstance(i.shape[0], int)

    def _state_tensors(self, pairs: list[tuple[str, str]], where: str) -> dict[str, np.ndarray]:
        """Zeroed state arrays of the ``kelly_jack.state`` pairs, checked against the graph; raises BackendError."""
        ins = {a.name: a for a in self.session.get_inputs()}
        outs = {a.name: a for a in self.session.get_outputs()}
        state = {}
        for i, o in pairs:
            if i not in ins or o not in outs:
                missing = f"input {i!r}" if i not in ins else f"output {o!r}"
                raise BackendError(f"{where}: kelly_jack.state names {missing}, which the graph does not have")
            a = ins[i]
            if a.type != "tensor(float)" or not all(isinstance(d, int) and d > 0 for d in a.shape):
                raise BackendError(f"{where}: state input {i!r} is {a.type} {a.shape}, expected float of fixed shape")
            if list(outs[o].shape) != list(a.shape) and any(isinstance(d, int) for d in outs[o].shape):
                raise BackendError(f"{where}: state output {o!r} has shape {outs[o].shape}, its input {a.shape}")
            state[i] = np.zeros(a.shape, dtype=np.float32)
        return state

    @property
    def recurrent(self) -> bool:
        """Whether the model carries state from call to call (``kelly_jack.state``)."""
        return bool(self._state)

    def reset(self) -> None:
        """Zero the recurrent state (no-op for a stateless model)."""
        for v in self._state.values():
            v[...] = 0.0

    def _run(self, rows: np.ndarray) -> np.ndarray:
        """One session run on ``rows`` (the feed's shape), carrying the state; the emotion output."""
        if not self._state:
            (y,) = self.session.run(self._fetch, {self._input.name: rows})
            return y
        y, *states = self.session.run(self._fetch, {self._input.name: rows, **self._state})
        for name, value in zip(self._state, states, strict=True):
            self._state[name] = np.asarray(value, dtype=np.float32).reshape(self._state[name].shape)
        return y

    def _feed_shape(self, rows: int) -> tuple[int, ...]:
        return (FEATURES,) if len(self._input.shape) == 1 else (rows, FEATURES)

    def infer(self, features: np.ndarray) -> np.ndarray:
        self._feed.reshape(-1)[:] = features
        return self._run(self._feed).reshape(-1)

    def infer_block(self, block: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(block, dtype=np.float32).reshape(-1, FEATURES)
        if self._dynamic_batch and len(rows):
            return self._run(rows).reshape(len(rows), EMOTIONS)
        return super().infer_block(rows)

    @property
    def metadata(self) -> dict[str, Any]:
        import onnx

        graph = onnx.load(str(self.path), load_external_data=False).graph
        return {
            "name": NAME,
            "file": str(self.path),
            "parameters": int(sum(np.prod(t.dims) for t in graph.initializer)),
            "layout_version": self.layout_version,
            "emotion_mapping": self._mapping,
            "input": f"{self._input.name} {self._input.shape}",
            "output": f"{self._output.name} {self._output.shape}",
            "recurrent": self.recurrent,
            "providers": self.session.get_providers(),
            **{k: v for k, v in self._meta.items() if k not in ("layout_version", "emotion_mapping", "state")},
        }


@hookimpl
def kelly_jack_backends() -> list[BackendFactory]:
    return [BackendFactory(NAME, OnnxBackend, "an ONNX model run by onnxruntime (1 thread)", (".onnx",))]
