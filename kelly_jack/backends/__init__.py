"""Model backends: objects that turn one 128-float feature vector into 64 emotion values.

The contract is in ``base.py``; backends are contributed by plugins (see
``kelly_jack.hookspecs``), the built-in ones too. ``create_backend`` builds
one from the config's ``backend`` block. Backends never import the JACK
layer: they run offline and in training too.
"""

from __future__ import annotations

from typing import Any

from .base import BackendBase, BackendError, FunctionBackend

Backend = BackendBase


def _discovered(plugins):
    """``plugins``, or the default discovery when None (imported late: plugins imports the backends)."""
    if plugins is not None:
        return plugins
    from ..plugins import load_plugins

    return load_plugins()


def create_backend(name: str, options: dict[str, Any], plugins=None) -> BackendBase:
    """A loaded, validated backend from the plugins' factories; raises BackendError."""
    plugins = _discovered(plugins)
    entry = plugins.backends.get(name)
    if entry is None:
        known = ", ".join(sorted(plugins.backends))
        raise BackendError(f"backend {name!r}: unknown (available: {known})", "name")
    try:
        return entry.spec.factory(options)
    except BackendError:
        raise
    except Exception as e:  # a plugin's own bug: still one line, naming the plugin
        raise BackendError(f"backend {name!r} (plugin {entry.plugin}): {type(e).__name__}: {e}") from None


def available_backends(plugins=None) -> list[str]:
    """Names ``create_backend`` accepts."""
    return sorted(_discovered(plugins).backends)


__all__ = ["Backend", "BackendBase", "BackendError", "FunctionBackend", "available_backends", "create_backend"]
