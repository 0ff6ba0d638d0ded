"""A start that compiles says so; ``kelly-jack warm``; the fused plan compiles only the layer kinds it has."""

from __future__ import annotations

import io
import subprocess
import sys
import types

import numba
import numpy as np

from kelly_jack.backends.rtneural.fused import Plan, run_vector
from kelly_jack.backends.rtneural.model import Model, load_model
from kelly_jack.warm import HINT, CompileAnnouncer

from support.jackd import ROOT


def jitted_in(module: str, name: str):
    """A fresh (uncompiled, uncached) jitted function whose module is ``module``."""
    mod = types.ModuleType(module)
    exec(f"def {name}(x):\n    return x + 1\n", mod.__dict__)
    return numba.njit(mod.__dict__[name])


def test_each_kelly_kernel_compiled_is_announced_once_and_the_first_line_says_why():
    out = io.StringIO()
    listener = CompileAnnouncer(out)
    numba.core.event.register("numba:compile", listener)
    try:
        mine, theirs = jitted_in("kelly_jack.rt.probe_mod", "kernel"), jitted_in("somebody.else", "helper")
        mine(1)
        mine(2)  # compiled already: no line
        theirs(1)  # not one of kelly's: counted in the time only
        jitted_in("kelly_jack.rt.probe_mod", "second")(1.0)
    finally:
        numba.core.event.unregister("numba:compile", listener)
    lines = out.getvalue().splitlines()
    assert lines == [
        f"kelly-jack: compiling kernel 1: rt.probe_mod.kernel ({HINT})",
        "kelly-jack: compiling kernel 2: rt.probe_mod.second",
    ]
    assert listener.count == 2 and listener.seconds > 0


def test_the_shipped_gru_model_compiles_without_the_conv_and_lstm_kernels():
    model = load_model(ROOT / "models" / "emotion.rtneural.json")
    plan = model.stages[0]
    assert isinstance(plan, Plan) and plan.kinds == (None, 0, None)  # (conv, gru, lstm): dense, gru, dense
    x = np.random.default_rng(1).normal(size=(6, model.input_size)).astype(np.float32)
    fused = np.stack([model.infer(row) for row in x])
    reference = Model(model.layers, model.input_size, model.kinds, fused=False).forward_block(x)
    assert np.allclose(fused, reference, atol=1e-6)
    # the conv and lstm branches compiled out (other tests' models may have added other specialisations)
    kinds = [[str(t) for t in s[5:]] for s in run_vector.signatures if s[3] == numba.typeof(x[0])]
    assert ["none", "int64", "none"] in kinds


def test_warm_refuses_a_bad_config(tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text("backend: {name: nosuch}\n")
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "warm", "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 2 and "nosuch" in r.stderr, r.stderr


def test_compiles_are_announced_on_a_terminal_only(tmp_path):
    import os

    from kelly_jack.warm import announce_compiles

    with open(tmp_path / "log", "w") as f:
        assert announce_compiles(f) is None  # a file: scripts and services keep one-line errors
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            listener = announce_compiles(tty)
            assert isinstance(listener, CompileAnnouncer)
            numba.core.event.unregister("numba:compile", listener)
    finally:
        os.close(master)
        os.close(slave)
