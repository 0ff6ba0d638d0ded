"""Plugins that misbehave on purpose, for the isolation tests (listed by dotted path in plugins.modules).

* backend ``hangs-later``: ``constant`` logits for ``good_calls`` calls, then never returns;
* generator ``stuck``: plays a note every hop for ``good_calls`` calls, then never returns;
* generator ``garbage``: queues one good note, then one with note number 200 (every call).
"""

import threading

from kelly_jack.backends.base import BackendBase, take_options
from kelly_jack.hookspecs import BackendFactory, GeneratorFactory, hookimpl
from kelly_jack.rt.emotion import logits_for

_NEVER = threading.Event()  # nobody sets it


class HangsLater(BackendBase):
    name = "hangs-later"

    def __init__(self, options):
        o = take_options(self.name, options, {"good_calls": (int, 20), "valence": (float, 0.5)})
        self._left = o["good_calls"]
        self._logits = logits_for(o["valence"], 0.0)

    def infer(self, features):
        self._left -= 1
        if self._left < 0:
            _NEVER.wait()
        return self._logits


class Stuck:
    name = "stuck"

    def __init__(self, options):
        self.channel = int(options.get("channel", 1)) - 1
        self._left = int(options.get("good_calls", 20))

    def generate(self, moment, out):
        self._left -= 1
        if self._left < 0:
            _NEVER.wait()
        out.note(moment.start, 100, self.channel, 60, 100)

    def reset(self):
        pass


class Garbage:
    name = "garbage"

    def __init__(self, options):
        self.channel = int(options.get("channel", 1)) - 1

    def generate(self, moment, out):
        out.note(moment.start, 100, self.channel, 64, 100)
        out.note(moment.start, 100, self.channel, 200, 100)

    def reset(self):
        pass


@hookimpl
def kelly_jack_backends():
    return [BackendFactory("hangs-later", HangsLater, "constant, then hangs for ever")]


@hookimpl
def kelly_jack_generators():
    return [
        GeneratorFactory("stuck", Stuck, "a note per hop, then hangs for ever"),
        GeneratorFactory("garbage", Garbage, "a good note, then note 200"),
    ]
