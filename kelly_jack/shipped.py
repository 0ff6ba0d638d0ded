"""The files kelly ships: the emotion model (``models/`` of the repository) and where to find them.

The repository keeps one copy, in ``models/``. Building the package (``setup.py``'s
``build_py``) copies that folder into ``kelly_jack/data/models`` of the wheel; a
checkout or an editable install has no such folder and reads ``models/`` next to the
package instead. ``model: default`` in a config (or no ``model`` key for a backend
listed in ``SHIPPED_MODELS``) names the shipped model of that backend.
"""

from __future__ import annotations

from pathlib import Path

from .errors import KellyError

PACKAGE = Path(__file__).resolve().parent
DATA_MODELS = PACKAGE / "data" / "models"  # in a built wheel or a `pip install .`
CHECKOUT_MODELS = PACKAGE.parent / "models"  # a checkout, an editable install
DEFAULT = "default"  # the `model:` value naming the shipped model
SHIPPED_MODELS = {
    "rtneural": "emotion.rtneural.json",
    "onnx": "emotion.onnx",
    "tflite": "emotion.tflite",
}  # backend -> file in models/


class ShippedFileMissing(KellyError):
    """The package has no shipped model (a broken install); ``str()`` is one line saying where it looked."""


def models_dir() -> Path:
    """The folder of the shipped model files: the package's ``data/models``, else the checkout's ``models/``.

    Raises ShippedFileMissing when neither holds the default model.
    """
    for folder in (DATA_MODELS, CHECKOUT_MODELS):
        if (folder / SHIPPED_MODELS["rtneural"]).is_file():
            return folder
    raise ShippedFileMissing(
        f"the shipped model is missing: neither {DATA_MODELS} nor {CHECKOUT_MODELS} holds "
        f"{SHIPPED_MODELS['rtneural']} (reinstall kelly-jack)"
    )


def shipped_model(backend: str) -> Path:
    """The path of the shipped model run by ``backend`` (a key of ``SHIPPED_MODELS``); raises KeyError for
    another backend and ShippedFileMissing for a broken install."""
    path = models_dir() / SHIPPED_MODELS[backend]
    if not path.is_file():
        raise ShippedFileMissing(f"the shipped model {path} is missing (reinstall kelly-jack)")
    return path
