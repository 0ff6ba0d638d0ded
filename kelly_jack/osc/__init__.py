"""OSC: the status stream out (valence, arousal, dominance, latency, counters) and control in.

``addresses`` names every address and its arguments, ``settings`` turns the
config's ``osc`` block into resolved socket addresses, ``snapshot`` reads the
running client's shared arrays into named figures and encodes/decodes them as
OSC bundles, ``control`` checks incoming messages, and ``service`` runs the
UDP socket on its own thread. Nothing here runs on, or waits for, the audio
thread: it only reads the shared counters and stores single float64 slots.
"""

from .service import OscService, open_osc

__all__ = ["OscService", "open_osc"]
