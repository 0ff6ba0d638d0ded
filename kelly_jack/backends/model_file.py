"""Reading model and description files safely: read-only, size-limited, no YAML aliases.

A model path comes from a config file (or an OSC/NSM command), so kelly
treats what it opens as untrusted: the size is checked on the open file
before a byte is read, and at most ``limit + 1`` bytes are read even if the
file grows or is not a regular file. YAML descriptions are parsed with
``safe_load`` and refused if they use aliases (``*name``), which let a
kilobyte expand to gigabytes when the layers are walked.

Runs on: the main thread at start-up, the reload thread on SIGHUP.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import KellyError

MAX_MODEL_BYTES = 64 * 2**20  # a JSON model or a JSON state_dict (the shipped model is ~0.2 MB)
MAX_DESCRIPTION_BYTES = 2**20  # a YAML architecture description: layers and file names only
MAX_ONNX_BYTES = 2**30  # onnxruntime reads the file itself; it is only checked


class FileTooLarge(KellyError, ValueError):
    """The file is over its limit; ``str()`` says how large it is and the limit."""


def _limit_text(limit: int) -> str:
    return f"{limit // 2**30} GiB" if limit >= 2**30 else f"{limit // 2**20} MiB"


def _within(size: int, limit: int) -> int:
    """``size``; raises FileTooLarge when it is over ``limit``."""
    if size > limit:
        raise FileTooLarge(f"the file is {size} bytes, over the limit of {limit} bytes ({_limit_text(limit)})")
    return size


def check_size(path: str | Path, limit: int) -> int:
    """The size of ``path`` in bytes; raises FileTooLarge over ``limit``, OSError if it cannot be opened."""
    return _within(os.stat(path).st_size, limit)


def checked_model(backend: str, model: str, limit: int) -> tuple[Path, str]:
    """The model path and ``backend 'name': path``, the start of its errors; raises BackendError (key ``model``)
    when the file is missing, unreadable or over ``limit`` bytes."""
    from .base import BackendError

    path = Path(model)
    where = f"backend {backend!r}: {path}"
    if not path.is_file():
        raise BackendError(f"{where}: no such file", "model")
    try:
        check_size(path, limit)
    except (OSError, ValueError) as e:
        raise BackendError(f"{where}: {e}", "model") from None
    return path, where


def read_text(path: str | Path, limit: int) -> str:
    """The UTF-8 text of ``path``, opened read-only; raises FileTooLarge, OSError, UnicodeDecodeError."""
    with open(path, "rb") as f:
        _within(os.fstat(f.fileno()).st_size, limit)
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we read, or a pipe
        raise FileTooLarge(f"the file is over the limit of {limit} bytes ({_limit_text(limit)})")
    return data.decode("utf-8")


def safe_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing aliases; raises yaml.YAMLError."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: aliases (*{event.anchor}) are not allowed in a model file")
    return yaml.safe_load(text)
