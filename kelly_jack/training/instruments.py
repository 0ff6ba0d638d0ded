"""General MIDI instruments of the corpus: which ones training uses, which ones evaluation keeps unseen.

Brightness is the timbre cue (-1 dark and soft .. +1 bright and edgy), assigned
by instrument family (brass, reeds and sawtooth leads bright; flutes, pads and
nylon strings dark); it is the weakest cue in the label rules.

Sets: ``TRAIN`` (22 programs, the first corpus), ``EVAL`` (20 programs no
training set uses), ``DEV`` (15 programs of neither, where training choices are
made), ``WIDE`` (every melodic program outside EVAL and DEV: 75, TRAIN included).
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

# Melodic GM programs outside TRAIN and EVAL: (name, brightness). Left out everywhere: 47 Timpani
# and 55 Orchestra Hit (a drum and a single chord stab: no melody), and 112-127 (percussive and
# sound effects). Brightness follows the family, as above: pianos 0, mallets and bells -0.1,
# organs 0.3, guitars 0, basses -0.6, strings -0.1, ensembles and voices -0.3 .. -0.5, brass 0.6,
# reeds 0.4, pipes -0.5, synth leads 0.8, pads -0.8, pitched synth effects -0.4, ethnic 0.3; moved
# where an instrument stands out in its family (distorted guitars, clavinet, jazz guitar, tuba).
OTHER = {
    2: ("Electric Grand Piano", 0.1),
    3: ("Honky-tonk Piano", 0.2),
    5: ("Electric Piano 2", -0.1),
    7: ("Clavinet", 0.5),
    9: ("Glockenspiel", 0.3),
    10: ("Music Box", -0.1),
    14: ("Tubular Bells", 0.0),
    15: ("Dulcimer", 0.1),
    17: ("Percussive Organ", 0.3),
    20: ("Reed Organ", 0.2),
    21: ("Accordion", 0.4),
    22: ("Harmonica", 0.5),
    23: ("Tango Accordion", 0.4),
    26: ("Electric Guitar (jazz)", -0.3),
    28: ("Electric Guitar (muted)", -0.2),
    29: ("Overdriven Guitar", 0.7),
    30: ("Distortion Guitar", 0.9),
    31: ("Guitar Harmonics", 0.0),
    32: ("Acoustic Bass", -0.7),
    33: ("Electric Bass (finger)", -0.6),
    34: ("Electric Bass (pick)", -0.4),
    35: ("Fretless Bass", -0.7),
    36: ("Slap Bass 1", -0.2),
    37: ("Slap Bass 2", -0.2),
    38: ("Synth Bass 1", -0.3),
    39: ("Synth Bass 2", -0.4),
    43: ("Contrabass", -0.6),
    44: ("Tremolo Strings", -0.1),
    45: ("Pizzicato Strings", -0.1),
    51: ("SynthStrings 2", -0.2),
    53: ("Voice Oohs", -0.5),
    54: ("Synth Voice", -0.4),
    58: ("Tuba", -0.2),
    62: ("SynthBrass 1", 0.7),
    63: ("SynthBrass 2", 0.6),
    67: ("Baritone Sax", 0.3),
    76: ("Blown Bottle", -0.6),
    77: ("Shakuhachi", -0.4),
    78: ("Whistle", -0.3),
    79: ("Ocarina", -0.5),
    82: ("Lead 3 (calliope)", 0.6),
    83: ("Lead 4 (chiff)", 0.5),
    84: ("Lead 5 (charang)", 0.9),
    85: ("Lead 6 (voice)", 0.4),
    86: ("Lead 7 (fifths)", 0.8),
    87: ("Lead 8 (bass + lead)", 0.8),
    90: ("Pad 3 (polysynth)", -0.5),
    91: ("Pad 4 (choir)", -0.8),
    92: ("Pad 5 (bowed)", -0.8),
    93: ("Pad 6 (metallic)", -0.6),
    94: ("Pad 7 (halo)", -0.8),
    95: ("Pad 8 (sweep)", -0.7),
    96: ("FX 1 (rain)", -0.4),
    97: ("FX 2 (soundtrack)", -0.5),
    98: ("FX 3 (crystal)", -0.2),
    99: ("FX 4 (atmosphere)", -0.4),
    100: ("FX 5 (brightness)", 0.0),
    101: ("FX 6 (goblins)", -0.5),
    102: ("FX 7 (echoes)", -0.4),
    103: ("FX 8 (sci-fi)", -0.3),
    104: ("Sitar", 0.4),
    105: ("Banjo", 0.5),
    106: ("Shamisen", 0.4),
    107: ("Koto", 0.2),
    108: ("Kalimba", -0.1),
    109: ("Bagpipe", 0.7),
    110: ("Fiddle", 0.4),
    111: ("Shanai", 0.6),
}

# The development set's programs: taken out of OTHER, never trained on, never evaluated on; the
# set where training choices are made (one or two per family, so it spans the timbres).
DEV_PROGRAMS = (2, 7, 10, 21, 26, 33, 44, 53, 58, 67, 79, 82, 94, 100, 105)
DEV = {p: OTHER[p] for p in DEV_PROGRAMS}

# The wide training pool: TRAIN plus every program of OTHER that is not in DEV.
WIDE = dict(sorted({**TRAIN, **{p: v for p, v in OTHER.items() if p not in DEV}}.items()))

NOT_MELODIC = frozenset({47, 55, *range(112, 128)})

SETS = {"train": TRAIN, "wide": WIDE, "dev": DEV, "eval": EVAL}

# Bass parts of arranged clips: the GM basses, else (a set without any: eval) its lowest-sounding
# programs (bassoon, cello, tuba, trombone, harp, pianos, guitars, viola, organs), else any program.
BASSES = (32, 33, 34, 35, 36, 37, 38, 39, 43)
LOW_PROGRAMS = (70, 42, 58, 57, 67, 46, 0, 1, 2, 24, 25, 26, 27, 41, 16, 19)


def bass_pool(table: dict[int, tuple[str, float]]) -> list[int]:
    """The programs of ``table`` that may play an arrangement's bass (never a program outside it)."""
    for pool in (BASSES, LOW_PROGRAMS):
        mine = sorted(p for p in pool if p in table)
        if mine:
            return mine
    return sorted(table)
