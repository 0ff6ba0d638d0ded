"""Finding plugins: built-ins, entry points, and module paths from the config.

``load_plugins(modules)`` returns a ``Plugins`` registry. Loading never stops
at a broken plugin: one that fails to import, or whose hook raises, is listed
in ``Plugins.errors`` with its name and distribution, and the rest keep
working.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pluggy

from . import hookspecs
from .backends import onnx as onnx_backend
from .backends import rtneural, stubs
from .backends import tflite as tflite_backend
from .hookspecs import BackendFactory, GeneratorFactory
from .midi import generators

BUILTINS = (stubs, onnx_backend, rtneural, tflite_backend, generators)
ENV = "KELLY_JACK_LOAD_PLUGINS"


@dataclass
class BackendEntry:
    """A backend (or generator) as discovered: its factory and where it came from."""

    spec: BackendFactory | GeneratorFactory
    plugin: str
    distribution: str
    version: str


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    backends: dict[str, BackendEntry] = field(default_factory=dict)
    generators: dict[str, BackendEntry] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _entry_points(selected: set[str] | None) -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=hookspecs.PROJECT))
    return [ep for ep in eps if selected is None or ep.name in selected]


def load_plugins(modules: list[str] = ()) -> Plugins:
    """Register built-ins, entry points (per $KELLY_JACK_LOAD_PLUGINS) and ``modules``; collect backends."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    origin: dict[str, tuple[str, str]] = {}
    for module in BUILTINS:
        pm.register(module, name=f"kelly_jack.{module.__name__.rsplit('.', 1)[-1]}")
        origin[pm.get_name(module)] = ("kelly-jack", _version("kelly-jack"))
    env = os.environ.get(ENV)
    selected = None if env is None else {n.strip() for n in env.split(",") if n.strip()}
    for ep in _entry_points(selected):
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            pm.register(ep.load(), name=ep.name)
            origin[ep.name] = (dist, version)
        except Exception as e:  # a broken plugin must not take the others down
            plugins.errors.append(f"plugin {ep.name!r} (distribution {dist} {version}) failed to load: {e}")
    for path in modules:
        try:
            pm.register(importlib.import_module(path), name=path)
            origin[path] = ("(config plugins.modules)", "")
        except Exception as e:
            plugins.errors.append(f"plugin module {path!r} (from plugins.modules) failed to load: {e}")
    # get_hookimpls() is in registration order: built-ins first, so they keep their names
    for hook, found, what in (
        (pm.hook.kelly_jack_backends, plugins.backends, "backend"),
        (pm.hook.kelly_jack_generators, plugins.generators, "generator"),
    ):
        for impl in hook.get_hookimpls():
            dist, version = origin.get(impl.plugin_name, ("?", "?"))
            try:
                specs = impl.function()
            except Exception as e:
                plugins.errors.append(f"plugin {impl.plugin_name!r} (distribution {dist}) raised in {hook.name}: {e}")
                continue
            for spec in specs or ():
                if spec.name in found:
                    first = found[spec.name].plugin
                    plugins.errors.append(
                        f"plugin {impl.plugin_name!r}: {what} {spec.name!r} is already provided by {first!r}; ignored"
                    )
                    continue
                found[spec.name] = BackendEntry(spec, impl.plugin_name, dist, version)
    return plugins


def backend_for_file(model: str | Path, plugins: Plugins) -> str | None:
    """The backend that opens the model file ``model``: the first (built-ins first) whose factory declares its
    suffix in ``BackendFactory.suffixes``; None when none does."""
    suffix = Path(model).suffix.lower()
    for name, entry in plugins.backends.items():
        if suffix and suffix in getattr(entry.spec, "suffixes", ()):
            return name
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"
