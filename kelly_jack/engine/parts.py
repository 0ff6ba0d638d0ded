"""Building what the engine runs from a config: the backend (and its emotion mapping) and the generators.

The live client, ``kelly-jack render`` and a model reload (SIGHUP) all build
them here, so they refuse the same mistakes with the same one-line
``ConfigError`` naming ``file:line`` and key. Main thread (or the reload thread).
"""

from __future__ import annotations

import sys

import numpy as np

from ..backends import BackendError, create_backend
from ..backends.base import BackendBase, check_layout_version, check_shape
from ..config import ConfigError, backend_options, generator_options, where
from ..inference.mapping import MappingError, emotion_mapping
from ..midi.factory import GeneratorError, create_generator
from ..plugins import Plugins, load_plugins
from ..rt.features.layout import LAYOUT_VERSION


def build_backend(cfg: dict, plugins: Plugins) -> tuple[BackendBase, np.ndarray | None]:
    """The loaded, checked backend and its learned mapping (None: grid centroid); raises ConfigError."""
    try:
        backend = create_backend(cfg["backend"]["name"], backend_options(cfg), plugins)
        try:
            check_shape(backend)
        except BackendError as e:
            raise BackendError(str(e), e.key if e.key != "model" or "model" in cfg["backend"] else None) from None
        check_layout_version(backend, cfg["backend"].get("model"), LAYOUT_VERSION)
        mapping = emotion_mapping(cfg["emotion"]["mapping"], backend)
    except MappingError as e:
        raise ConfigError(f"{where(cfg, 'emotion.mapping')}: emotion.mapping: {e}") from None
    except BackendError as e:
        raise ConfigError(f"{where(cfg, f'backend.{e.key}' if e.key else 'backend')}: {e}") from None
    return backend, mapping


def build_generators(cfg: dict, plugins: Plugins) -> list:
    """The configured generator instances, in config order; raises ConfigError."""
    generators = []
    for instance in cfg["generators"]:
        kind, options = generator_options(cfg, instance)
        try:
            generators.append(create_generator(kind, options, plugins))
        except GeneratorError as e:
            key = f"generators.{instance}" + (f".{e.key}" if e.key else "")
            raise ConfigError(f"{where(cfg, key)}: generators.{instance}: {e}") from None
    return generators


def build_engine_parts(cfg: dict) -> tuple[BackendBase, list]:
    """Plugins loaded (problems printed as warnings), then the backend and the generators; raises ConfigError."""
    plugins = load_plugins(cfg["plugins"]["modules"])
    for problem in plugins.errors:
        print(f"kelly-jack: warning: {problem}", file=sys.stderr)
    backend, _ = build_backend(cfg, plugins)
    return backend, build_generators(cfg, plugins)
