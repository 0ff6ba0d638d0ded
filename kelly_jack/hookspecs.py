"""The hooks kelly-jack calls on its plugins (pluggy project name ``kelly_jack``).

A plugin is a module (or object) with functions marked ``@hookimpl`` named like
the specs below. kelly-jack's own backends are plugins too; third-party ones
come from the ``kelly_jack`` entry-point group of installed distributions, or
from module paths listed under ``plugins.modules`` in the config::

    # pyproject.toml of a plugin distribution
    [project.entry-points.kelly_jack]
    my_backend = "my_package.kelly_plugin"

    # my_package/kelly_plugin.py
    from kelly_jack.hookspecs import hookimpl, BackendFactory

    @hookimpl
    def kelly_jack_backends():
        return [BackendFactory("my-model", MyBackend, "what it is")]

``KELLY_JACK_LOAD_PLUGINS`` controls entry-point loading: unset loads all,
empty loads none, a comma list loads only those entry-point names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

PROJECT = "kelly_jack"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class BackendFactory:
    """A named backend: ``factory(options)`` returns a loaded, validated backend.

    ``options`` is the config's ``backend`` block without ``name`` (a relative
    ``model`` path is already resolved against the config file's folder). The
    factory raises ``kelly_jack.backends.BackendError`` with one line naming
    the file and what is wrong. ``suffixes`` are the model file suffixes it
    opens (lower case, with the dot): a model file named without a backend
    (``kelly-jack model info FILE``, the training tools) goes to the first
    backend that declares its suffix (``kelly_jack.plugins.backend_for_file``).
    """

    name: str
    factory: Callable[[dict[str, Any]], Any]
    description: str = ""
    suffixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratorFactory:
    """A named MIDI generator: ``factory(options)`` returns a generator (docs/generators.md)."""

    name: str
    factory: Callable[[dict[str, Any]], Any]
    description: str = ""


@hookspec
def kelly_jack_backends() -> list[BackendFactory]:
    """Return the backends this plugin provides."""


@hookspec
def kelly_jack_generators() -> list[GeneratorFactory]:
    """Return the MIDI generators this plugin provides."""
