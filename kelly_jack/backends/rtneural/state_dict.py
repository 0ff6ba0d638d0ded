"""PyTorch state_dict JSON files (``{name: nested list}``), read for an architecture description.

Parameters are looked up by name with the shape the layer expects; every
problem is a ``ModelError`` naming the parameter and its file. Parameters no
layer used are reported too, so a layer missing from the description is an
error rather than silently dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ModelError
from .weights import shaped

IGNORED = ("num_batches_tracked",)  # BatchNorm's training counter: not a weight


class StateDict:
    """Named tensors from one or more files; ``prefix.name`` addresses ``name`` in the file aliased ``prefix``."""

    def __init__(self) -> None:
        self.tensors: dict[str, tuple[object, str]] = {}  # name -> (raw value, file name)
        self.used: set[str] = set()
        self.files: dict[str, str] = {}  # alias ("" for a lone file) -> file name

    def add_file(self, path: Path, alias: str, read_json) -> None:
        doc = read_json(path)
        if not isinstance(doc, dict) or "layers" in doc:
            raise ModelError(f"state_dict {path.name}: not a PyTorch state_dict (a flat map of parameter names)")
        self.files[alias] = path.name
        for name, value in doc.items():
            self.tensors[f"{alias}.{name}" if alias else name] = (value, path.name)

    def has(self, name: str) -> bool:
        return name in self.tensors

    def get(self, name: str, shape: tuple, where: str) -> np.ndarray:
        """The tensor ``name`` as float64 of ``shape`` (None: any size on that axis)."""
        if name not in self.tensors:
            raise ModelError(f"{where}: missing parameter {name!r} in {self._file_for(name)}")
        value, file = self.tensors[name]
        self.used.add(name)
        return shaped(value, shape, f"{where}: {name} ({file})")

    def scalar(self, name: str, where: str) -> float:
        value, file = self.tensors[name]
        self.used.add(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ModelError(f"{where}: {name} ({file}): expected a number, got {value!r}")
        return float(value)

    def unused(self) -> list[str]:
        return [n for n in self.tensors if n not in self.used and n.rsplit(".", 1)[-1] not in IGNORED]

    def _file_for(self, name: str) -> str:
        if "" in self.files:
            return self.files[""]
        alias = name.split(".", 1)[0]
        if alias in self.files:
            return self.files[alias]
        return f"none of the state_dict files (aliases: {', '.join(self.files)})"
