"""A plugin whose hook raises: kelly-jack must report it and go on."""

from kelly_jack.hookspecs import hookimpl


@hookimpl
def kelly_jack_backends():
    raise RuntimeError("this plugin is broken on purpose")
