"""The build step that puts the shipped model into the package; everything else is in pyproject.toml.

``models/`` keeps the one copy of the model files (the model, its ONNX twin, the model card and the
training outputs). Building a wheel or a plain ``pip install .`` copies every file of it into
``kelly_jack/data/models`` of the build (never into the source tree), where ``kelly_jack/shipped.py``
finds them. An editable install skips the copy: its package sits in the checkout, next to ``models/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"
REQUIRED = "emotion.rtneural.json"  # the default model (kelly_jack.shipped.SHIPPED_MODELS)


class BuildPyWithModels(build_py):
    """``build_py``, then the files of ``models/`` into ``<build>/kelly_jack/data/models``."""

    def _model_files(self) -> list[Path]:
        if not (MODELS / REQUIRED).is_file():
            raise SystemExit(f"setup.py: {MODELS / REQUIRED} is missing: the package must carry the shipped model")
        return sorted(p for p in MODELS.iterdir() if p.is_file() and not p.name.startswith("."))

    def _target(self) -> Path:
        return Path(self.build_lib) / "kelly_jack" / "data" / "models"

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = self._target()
        target.mkdir(parents=True, exist_ok=True)
        for path in self._model_files():
            shutil.copyfile(path, target / path.name)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(self._target() / p.name) for p in self._model_files()]


setup(cmdclass={"build_py": BuildPyWithModels})
