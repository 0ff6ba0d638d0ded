"""``kelly-jack render IN -o OUT.mid``: the live engine over an audio file, no JACK.

The logic is in ``kelly_jack.offline.render``; this parses the command line,
builds the backend and generators from the config exactly as the live client
does. Errors are KellyErrors: one line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ..config import describe_source, load_found_config
from ..errors import UsageError
from . import add_config_option

GROUP = "tools for model and plugin authors"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "render",
        strict=True,
        help="the live engine over a file, no JACK: MIDI file and timeline",
        description=(
            "Run an audio file (any format soundfile reads) through the same kernels, window, hop, latency "
            "and generators as the live client, with no JACK server, and write what midi_out would send as a "
            "Standard MIDI File. A live run that has no late results sends the same events at the same "
            "frames. Deterministic: same input, config and --block, same bytes."
        ),
    )
    p.add_argument("input", metavar="IN", help="audio file: mono (fed to every input) or one channel per input")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid", help="the Standard MIDI File to write")
    add_config_option(p, "backend, generators, analysis, latency", " (the shipped model, the harmony generator)")
    p.add_argument("--csv", metavar="TIMELINE.csv", help="also write valence/arousal of every hop")
    p.add_argument("--plot", metavar="TIMELINE.png", help="also plot the timeline and the notes (matplotlib)")
    p.add_argument("--features", metavar="F.npy", help="also write the 128 features of every hop")
    p.add_argument("--rate", type=int, metavar="HZ", help="server rate to simulate (default: the file's)")
    p.add_argument("--block", type=int, default=128, metavar="FRAMES", help="period size to simulate (default 128)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from ..compile_workers import precompile
    from ..engine.parts import build_engine_parts
    from ..warm import announce_compiles

    announce_compiles()  # a render with an empty Numba cache says what it waits for

    cfg = load_found_config(args.config)
    precompile(cfg)  # a cold Numba cache: the kernel groups compile side by side in worker processes
    backend, generators = build_engine_parts(cfg)
    if args.rate is not None and not 8000 <= args.rate <= 384000:
        raise UsageError(f"--rate must be 8000..384000 Hz, got {args.rate}")
    if not 1 <= args.block <= 8192:
        raise UsageError(f"--block must be 1..8192 frames, got {args.block}")
    from ..offline.render import render

    r = render(
        args.input,
        cfg,
        backend,
        generators,
        args.output,
        rate=args.rate,
        block=args.block,
        csv_path=args.csv,
        plot_path=args.plot,
        features_path=args.features,
    )
    notes = sum(1 for _, m in r.events if m[0] & 0xF0 == 0x90 and len(m) == 3 and m[2] > 0)
    print(
        f"{args.output}: {len(r.events)} MIDI events ({notes} notes) from {r.results} results over {r.seconds:.1f} s "
        f"at {r.rate} Hz, periods of {args.block}, latency {r.latency} frames; backend {backend.name}, "
        f"config {describe_source(cfg)}",
        file=sys.stderr,
    )
    return 0
