"""The live monitor: ``kelly-jack monitor`` (another process, through the OSC status stream) and
``kelly-jack --monitor`` (the client's own terminal). ``view`` draws one frame from a figures dict
(``osc.snapshot.collect``'s keys) and a ``History``; ``feed`` subscribes to a running kelly; ``live``
redraws in a terminal (or prints plain frames into a log).
"""
