"""kelly-jack: a JACK/PipeWire client that turns the emotion it hears into MIDI."""

__version__ = "0.1.0"
