"""A model trained on another feature layout is refused where kelly-jack creates the backend."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from kelly_jack.backends import BackendError, create_backend
from kelly_jack.backends.base import check_layout_version
from kelly_jack.rt.features import LAYOUT_VERSION

from support.jackd import ROOT
from support.onnx_models import dense_tanh

W = np.zeros((128, 64), dtype=np.float32)
B = np.zeros(64, dtype=np.float32)


def kelly(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kelly_jack", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


# 1: before the constant-Q chroma; 2: before the tempogram; 3: before the dissonance and the compressed-onset tempo;
# 4: before the level reference
@pytest.mark.parametrize("old", ["0", "1", "2", "3", "4"])
def test_other_layout_is_an_error_naming_the_file_and_both_versions(tmp_path, old):
    assert LAYOUT_VERSION == 5
    model = dense_tanh(tmp_path / "old.onnx", W, B, kelly_jack__layout_version=old)
    backend = create_backend("onnx", {"model": str(model)})
    with pytest.raises(BackendError) as e:
        check_layout_version(backend, str(model), LAYOUT_VERSION)
    assert str(model) in str(e.value)
    assert f"feature layout {old}, but kelly-jack computes feature layout {LAYOUT_VERSION}" in str(e.value)
    assert e.value.key == "model"


@pytest.mark.parametrize("meta", [{"kelly_jack__layout_version": str(LAYOUT_VERSION)}, {}], ids=["same", "unsaid"])
def test_same_or_unsaid_layout_is_accepted(tmp_path, meta):
    model = dense_tanh(tmp_path / "m.onnx", W, B, **meta)
    check_layout_version(create_backend("onnx", {"model": str(model)}), str(model), LAYOUT_VERSION)


def test_cli_refuses_the_model_before_jack_with_one_line(tmp_path):
    dense_tanh(tmp_path / "old.onnx", W, B, kelly_jack__layout_version="0")
    cfg = tmp_path / "k.yaml"
    cfg.write_text("backend:\n  name: onnx\n  model: old.onnx\n")
    r = kelly("--config", str(cfg), "--server", f"no-such-server-{os.getpid()}")
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"kelly-jack: {cfg}:3: backend 'onnx': model ")
    assert "old.onnx was trained on feature layout 0" in r.stderr
    assert f"computes feature layout {LAYOUT_VERSION}" in r.stderr


def test_cli_accepts_the_current_layout(tmp_path):
    dense_tanh(tmp_path / "new.onnx", W, B, kelly_jack__layout_version=str(LAYOUT_VERSION))
    cfg = tmp_path / "k.yaml"
    cfg.write_text("backend:\n  name: onnx\n  model: new.onnx\n")
    r = kelly("--config", str(cfg), "--server", f"no-such-server-{os.getpid()}")
    assert r.returncode == 3, r.stderr  # got past the backend: no JACK server
