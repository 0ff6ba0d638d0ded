"""MIDI generation off the audio thread: generators, the tempo clock, and the event scheduler.

Generators (pluggy plugins, see ``kelly_jack.hookspecs``) run on a control
thread after each inference result, get a ``Moment`` (the stretch of the
output time line they fill, valence/arousal, tempo and musical position) and
queue frame-stamped events on an ``EventScheduler``; the audio thread only
writes the events that fall due in each period. They never import the JACK
layer, so the offline renderer can drive them too.
"""
