"""Writing a model of dense and GRU layers (RTNeural JSON) as a TFLite flatbuffer, without TensorFlow.

The graph is built from TFLite builtin operators with the schema bindings that
ai-edge-litert ships (``schema_py_generated``) and ``flatbuffers``, so the file
is made by the same package that runs it, and the same input gives the same
bytes. Everything is float32, batch 1, one hop per call:

* input ``features`` ``[1, inputs]``, output ``emotion`` ``[1, outputs]`` (kelly's backends
  take 128 and give 64; the writer leaves that check to the backend);
* ``dense``: FULLY_CONNECTED, with ``relu`` fused, or a TANH (``tanh``) or
  LOGISTIC (``sigmoid``) after it;
* ``gru`` (Keras reset_after, gates z, r, h; RTNeural's GRU):
  ``gx = W x + b_in``, ``gh = U h + b_rec``, each SPLIT in three,
  ``z = σ(gx_z + gh_z)``, ``r = σ(gx_r + gh_r)``, ``n = tanh(gx_n + r · gh_n)``,
  ``h' = n + z · (h − n)``. Its state is an input ``state`` ``[1, units]``
  and an output ``state_out``; the metadata key ``kelly_jack.state`` names the
  pair, so the tflite backend feeds ``state_out`` back, as the onnx backend does.

The document's ``kelly_jack.*`` keys become TFLite metadata entries (UTF-8
JSON text, read back by ``model_meta.read``). Raises ``ValueError`` naming the
layer it cannot write; ``ImportError`` when ai-edge-litert is not installed.
Runs on: the main thread of a command or a script, never in the engine.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..model_meta import PREFIX

STATE_IN, STATE_OUT = "state", "state_out"


class _Graph:
    """Tensors, buffers and operators of one subgraph, added in order."""

    def __init__(self, schema):
        self.s = schema
        self.tensors: list = []
        self.buffers: list = [schema.BufferT()]  # buffer 0: the empty buffer every activation tensor uses
        self.ops: list = []
        self.codes: list[int] = []

    def tensor(self, name: str, shape: list[int], data: np.ndarray | None = None, dtype: str = "float32") -> int:
        t = self.s.TensorT()
        t.name, t.shape = name, list(shape)
        t.type = self.s.TensorType.INT32 if dtype == "int32" else self.s.TensorType.FLOAT32
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = np.ascontiguousarray(data, dtype=dtype).reshape(shape).tobytes()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0, options=None) -> None:
        if code not in self.codes:
            self.codes.append(code)
        o = self.s.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def fully_connected(self, name: str, x: int, w: np.ndarray, b: np.ndarray, act: int) -> int:
        """FULLY_CONNECTED of x with weights ``w`` [out, in] and bias ``b`` [out]; the new tensor."""
        s = self.s
        wt = self.tensor(f"{name}/weights", list(w.shape), w)
        bt = self.tensor(f"{name}/bias", [w.shape[0]], b)
        y = self.tensor(name, [1, w.shape[0]])
        opts = s.FullyConnectedOptionsT()
        opts.fusedActivationFunction = act
        self.op(s.BuiltinOperator.FULLY_CONNECTED, [x, wt, bt], [y], s.BuiltinOptions.FullyConnectedOptions, opts)
        return y

    def unary(self, code: int, name: str, x: int, width: int) -> int:
        y = self.tensor(name, [1, width])
        self.op(code, [x], [y])
        return y

    def binary(self, kind: str, name: str, a: int, b: int, width: int, out: int | None = None) -> int:
        s = self.s
        code, opt_type, opt_cls = {
            "add": (s.BuiltinOperator.ADD, s.BuiltinOptions.AddOptions, s.AddOptionsT),
            "sub": (s.BuiltinOperator.SUB, s.BuiltinOptions.SubOptions, s.SubOptionsT),
            "mul": (s.BuiltinOperator.MUL, s.BuiltinOptions.MulOptions, s.MulOptionsT),
        }[kind]
        y = self.tensor(name, [1, width]) if out is None else out
        self.op(code, [a, b], [y], opt_type, opt_cls())
        return y

    def split3(self, name: str, x: int, units: int) -> list[int]:
        s = self.s
        axis = self.tensor(f"{name}/axis", [], np.array(1), dtype="int32")
        parts = [self.tensor(f"{name}_{g}", [1, units]) for g in "zrh"]
        opts = s.SplitOptionsT()
        opts.numSplits = 3
        self.op(s.BuiltinOperator.SPLIT, [axis, x], parts, s.BuiltinOptions.SplitOptions, opts)
        return parts


def _dense(g: _Graph, i: int, layer: dict[str, Any], x: int) -> int:
    s = g.s
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer["weights"])  # kernel [in, out] (Keras)
    act = layer.get("activation", "")
    after = {"tanh": s.BuiltinOperator.TANH, "sigmoid": s.BuiltinOperator.LOGISTIC}  # FULLY_CONNECTED fuses relu only
    if act not in ("", "relu", *after):
        raise ValueError(f"layer {i} (dense): activation {act!r} is not one the TFLite writer knows")
    fused = s.ActivationFunctionType.RELU if act == "relu" else s.ActivationFunctionType.NONE
    y = g.fully_connected(f"dense{i}", x, kernel.T, bias, fused)
    if act in after:
        y = g.unary(after[act], f"dense{i}/{act}", y, kernel.shape[1])
    return y


def _gru(g: _Graph, i: int, layer: dict[str, Any], x: int, state: tuple[int, int]) -> int:
    s = g.s
    if layer.get("activation", "tanh") != "tanh":
        raise ValueError(f"layer {i} (gru): activation {layer.get('activation')!r}, the TFLite writer knows tanh")
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in layer["weights"])
    units = recurrent.shape[0]
    if bias.shape != (2, 3 * units):
        raise ValueError(f"layer {i} (gru): expected a reset_after bias of shape [2, {3 * units}], got {bias.shape}")
    h, h_out = state
    none = s.ActivationFunctionType.NONE
    gx = g.split3(f"gru{i}/x", g.fully_connected(f"gru{i}/input", x, kernel.T, bias[0], none), units)
    gh = g.split3(f"gru{i}/h", g.fully_connected(f"gru{i}/recurrent", h, recurrent.T, bias[1], none), units)
    gate = {}
    for k, name in ((0, "z"), (1, "r")):
        pre = g.binary("add", f"gru{i}/{name}_pre", gx[k], gh[k], units)
        gate[name] = g.unary(s.BuiltinOperator.LOGISTIC, f"gru{i}/{name}", pre, units)
    reset_h = g.binary("mul", f"gru{i}/r_h", gate["r"], gh[2], units)
    n = g.unary(s.BuiltinOperator.TANH, f"gru{i}/n", g.binary("add", f"gru{i}/n_pre", gx[2], reset_h, units), units)
    keep = g.binary("mul", f"gru{i}/z_h", gate["z"], g.binary("sub", f"gru{i}/h_n", h, n, units), units)
    return g.binary("add", f"gru{i}/h_new", n, keep, units, out=h_out)


def tflite_bytes(doc: dict[str, Any]) -> bytes:
    """The RTNeural JSON document ``doc`` (dense layers, at most one GRU) as a TFLite flatbuffer; ValueError."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    layers = doc.get("layers") or []
    kinds = [layer.get("type") for layer in layers]
    bad = [(i, k) for i, k in enumerate(kinds) if k not in ("dense", "gru")]
    if bad:
        raise ValueError(f"layer {bad[0][0]} ({bad[0][1]}): the TFLite writer knows dense and gru layers")
    if kinds.count("gru") > 1:
        raise ValueError("the TFLite writer takes at most one gru layer")
    if not layers:
        raise ValueError("the document has no layers")
    width = np.asarray(layers[0]["weights"][0]).shape[0]
    g = _Graph(schema)
    x = g.tensor("features", [1, width])
    inputs, outputs, meta = [x], [], {k: v for k, v in doc.items() if k.startswith(PREFIX)}
    state = None
    if "gru" in kinds:
        units = len(layers[kinds.index("gru")]["weights"][1])
        state = (g.tensor(STATE_IN, [1, units]), None)
        inputs.append(state[0])
        meta[PREFIX + "state"] = [[STATE_IN, STATE_OUT]]
    for i, layer in enumerate(layers):
        n_in = np.asarray(layer["weights"][0]).shape[0]
        if n_in != width:
            raise ValueError(f"layer {i} ({layer['type']}): takes {n_in} inputs, the layer before gives {width}")
        if layer["type"] == "dense":
            x = _dense(g, i, layer, x)
        else:
            h_out = g.tensor(STATE_OUT, [1, len(layer["weights"][1])])
            state = (state[0], h_out)
            x = _gru(g, i, layer, x, state)
        width = g.tensors[x].shape[1]
    g.tensors[x].name = "emotion"
    outputs.append(x)
    if state is not None:
        outputs.append(state[1])
    model = schema.ModelT()
    model.version = 3
    model.description = "kelly-jack"
    codes = []
    for code in g.codes:
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), 1
        codes.append(c)
    model.operatorCodes = codes
    sub = schema.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators, sub.name = g.tensors, inputs, outputs, g.ops, "main"
    model.subgraphs = [sub]
    model.metadata = []
    for key in sorted(meta):
        b = schema.BufferT()
        value = meta[key]
        b.data = (value if isinstance(value, str) else json.dumps(value)).encode()
        g.buffers.append(b)
        entry = schema.MetadataT()
        entry.name, entry.buffer = key, len(g.buffers) - 1
        model.metadata.append(entry)
    model.buffers = g.buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_model(data: bytes) -> tuple[dict[str, str], int]:
    """The metadata entries (name -> UTF-8 text) and the parameter count (elements of constant tensors) of a
    TFLite flatbuffer; ValueError if it is not one."""
    from ai_edge_litert import schema_py_generated as schema

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no TFL3 identifier)")
    model = schema.Model.GetRootAs(data, 0)
    props = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buf = model.Buffers(entry.Buffer())
        props[entry.Name().decode()] = buf.DataAsNumpy().tobytes().decode() if buf.DataLength() else ""
    parameters = 0
    for k in range(model.SubgraphsLength()):
        graph = model.Subgraphs(k)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            if tensor.Buffer() and model.Buffers(tensor.Buffer()).DataLength():
                parameters += int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 1
    return props, parameters
