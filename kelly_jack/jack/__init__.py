"""The JACK layer: libjack bindings for Numba, the audio callback, the client."""
