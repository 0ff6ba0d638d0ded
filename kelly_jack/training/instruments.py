"""General MIDI instruments of the corpus: which ones training uses, which ones evaluation keeps unseen.

Brightness is the timbre cue (-1 dark and soft .. +1 bright and edgy), assigned
by instrument family (brass, reeds and sawtooth leads bright; flutes, pads and
nylon strings dark); it is the weakest cue in the label rules.
"""

from __future__ import annotations

# program: (name, brightness)
TRAIN = {
    0: ("Acoustic Grand Piano", 0.0),
    4: ("Electric Piano 1", -0.3),
    6: ("Harpsichord", 0.5),
    11: ("Vibraphone", -0.2),
    12: ("Marimba", -0.1),
    19: ("Church Organ", 0.3),
    24: ("Acoustic Guitar (nylon)", -0.4),
    25: ("Acoustic Guitar (steel)", 0.2),
    40: ("Violin", 0.3),
    42: ("Cello", -0.3),
    48: ("String Ensemble 1", -0.3),
    52: ("Choir Aahs", -0.5),
    56: ("Trumpet", 0.8),
    57: ("Trombone", 0.5),
    60: ("French Horn", -0.1),
    61: ("Brass Section", 0.8),
    65: ("Alto Sax", 0.6),
    68: ("Oboe", 0.5),
    71: ("Clarinet", -0.2),
    73: ("Flute", -0.6),
    80: ("Lead 1 (square)", 0.9),
    89: ("Pad 2 (warm)", -0.9),
}

# Never used in training.
EVAL = {
    1: ("Bright Acoustic Piano", 0.3),
    8: ("Celesta", -0.2),
    13: ("Xylophone", 0.4),
    16: ("Drawbar Organ", 0.4),
    18: ("Rock Organ", 0.6),
    27: ("Electric Guitar (clean)", 0.1),
    41: ("Viola", 0.0),
    46: ("Orchestral Harp", -0.5),
    49: ("String Ensemble 2", -0.4),
    50: ("SynthStrings 1", 0.0),
    59: ("Muted Trumpet", 0.2),
    64: ("Soprano Sax", 0.6),
    66: ("Tenor Sax", 0.4),
    69: ("English Horn", 0.2),
    70: ("Bassoon", -0.1),
    72: ("Piccolo", 0.3),
    74: ("Recorder", -0.6),
    75: ("Pan Flute", -0.7),
    81: ("Lead 2 (sawtooth)", 1.0),
    88: ("Pad 1 (new age)", -0.7),
}
