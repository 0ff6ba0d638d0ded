"""The engine: one kelly session and its parts, shared by the live client and the offline renderer.

* ``live``: one run against a JACK server (``Session``, ``run``): wiring, the main loop, shutdown;
* ``state``: the preallocated state of the audio thread, the inference thread and the CLI, and its parameters;
* ``parts``: building the backend (and its emotion mapping) and the generators from a config;
* ``latency``: the total latency L;
* ``reload``: model hot swap (SIGHUP, ``/kelly/reload``);
* ``report``: the live status line and the shutdown summary;
* ``checks``: the checks of ``kelly-jack doctor``.

Nothing is imported here: ``live`` imports JACK and the compiled kernels, which the offline
renderer (``kelly_jack.offline``) and the tools do not need.
"""
