"""The ``main(argv)`` of a script in ``scripts/``, loaded from its file (the scripts are not a package)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def script_main(name: str) -> Callable[[list[str] | None], int]:
    """``scripts/<name>.py``'s ``main``, loaded afresh (its module-level state is its own)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main
