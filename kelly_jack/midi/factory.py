"""Building the configured generators from the plugins' factories."""

from __future__ import annotations

from typing import Any

from ..errors import KellyError


class GeneratorError(KellyError):
    """A generator block that cannot be built; ``key`` is the option at fault (for file:line)."""


def create_generator(kind: str, options: dict[str, Any], plugins) -> Any:
    """A generator of type ``kind`` from ``plugins`` (a plugins.Plugins); raises GeneratorError."""
    entry = plugins.generators.get(kind)
    if entry is None:
        known = ", ".join(sorted(plugins.generators)) or "none"
        raise GeneratorError(f"generator type {kind!r}: unknown (available: {known})", "type")
    try:
        return entry.spec.factory(options)
    except Exception as e:  # the plugin's message names the option; keep it to one line
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        key = text.split(":", 1)[0] if ":" in text and text.split(":", 1)[0] in options else None
        raise GeneratorError(f"generator {kind!r} (plugin {entry.plugin}): {text}", key) from None
