"""The ``kelly-jack`` command line.

Exit codes: 0 ok; 1 the JACK server went away or an unexpected error;
2 bad arguments, configuration or backend block (one line naming file:line and
key); 3 no JACK server running.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .config import ConfigError, load_found_config
from .engine_parts import build_engine_parts
from .nsm.protocol import ERR_BAD_PROJECT, ERR_GENERAL

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NO_SERVER = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kelly-jack",
        description=(
            "A JACK/PipeWire client that listens to audio, infers its emotion with a pluggable model "
            "and sends valence/arousal as MIDI on its midi_out port, sample-aligned and with its "
            "latency accounted. Patch its ports in qjackctl or Carla. Stop with Ctrl-C."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""\
tools for model and plugin authors:
  kelly-jack backends              list the backends every plugin provides
  kelly-jack generators            list the MIDI generators every plugin provides
  kelly-jack model info [MODEL]    sizes, parameters and layout version of a model file
                                   (default: the configured model, else the shipped one)
  kelly-jack model run MODEL --input X --output Y
                                   run a model over the rows of X (.npy/.csv)
  kelly-jack model convert MODEL.onnx -o MODEL.json
                                   convert an ONNX graph to RTNeural JSON
  kelly-jack render IN.wav -o OUT.mid [--config FILE] [--csv T.csv] [--plot T.png]
                                   the live engine over a file, no JACK: MIDI file and timeline
  kelly-jack features IN.wav -o OUT.npy [--config FILE]
                                   the 128 features of every hop of a file (.npy + .json)
  kelly-jack warm [--config FILE]  compile the Numba kernels into the cache now (once after install)

watching a running kelly (needs osc.enabled: true in its config):
  kelly-jack monitor [--config FILE | --port N] [--once]
                                   valence/arousal over the last minute, emotion grid, latency,
                                   audio-thread and inference time, xruns, late results

configuration:
  kelly-jack init [PATH]           write a commented starter config with every key at its default
                                   (default PATH: ~/.config/kelly-jack/studio.yaml); never overwrites

checking the setup:
  kelly-jack doctor [--config FILE] [--server NAME]
                                   server (JACK2 or PipeWire, rate, period), realtime and memlock
                                   limits, CPU governor, Numba cache, model load and inference time;
                                   OK/INFO/WARN/FAIL lines with what to do; exit 1 if anything FAILs

exit codes:
  0  ok
  1  the JACK server went away, or an internal error
  2  bad arguments, configuration or backend block (one line: file:line and key)
  3  no JACK server running (scripts/demo starts a private one)

Every command reads --config FILE, else $KELLY_JACK_CONFIG, else $XDG_CONFIG_HOME/kelly-jack/studio.yaml
(~/.config/kelly-jack/studio.yaml), else the built-in defaults: the shipped emotion model (rtneural
backend) and the harmony generator. The start line names the config in use. Every config key is
documented in docs/configuration.md (in the sources).""",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration (default: $KELLY_JACK_CONFIG, else ~/.config/kelly-jack/studio.yaml, else the "
        "built-in defaults)",
    )
    p.add_argument("--server", metavar="NAME", help="JACK server name (overrides client.server)")
    p.add_argument("--name", metavar="NAME", help="JACK client name (overrides client.name)")
    p.add_argument("--duration", metavar="SECONDS", type=float, help="stop after this many seconds")
    live = p.add_mutually_exclusive_group()
    live.add_argument("--status", action="store_true", help="show valence/arousal, latency and MIDI live")
    live.add_argument("--monitor", action="store_true", help="show the live monitor (kelly-jack monitor) here")
    p.add_argument("--version", action="version", version=f"kelly-jack {__version__}")
    return p


TOOLS = ("backends", "generators", "model")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "features":
        from .features_cli import main as features_main

        return features_main(argv[1:])
    if argv and argv[0] == "doctor":
        from .doctor_cli import main as doctor_main

        return doctor_main(argv[1:])
    if argv and argv[0] == "monitor":
        from .monitor_cli import main as monitor_main

        return monitor_main(argv[1:])
    if argv and argv[0] == "render":
        from .render_cli import main as render_main

        return render_main(argv[1:])
    if argv and argv[0] == "init":
        from .init_cli import main as init_main

        return init_main(argv[1:])
    if argv and argv[0] == "warm":
        from .warm import main as warm_main

        return warm_main(argv[1:])
    if argv and argv[0] in TOOLS:
        from .model_cli import main as tools_main

        return tools_main(argv)
    args = build_parser().parse_args(argv)
    from .warm import announce_compiles

    announce_compiles()  # a start with an empty Numba cache says what it waits for
    if args.duration is not None and args.duration <= 0:
        print("kelly-jack: --duration must be positive", file=sys.stderr)
        return EXIT_USAGE
    nsm = None
    try:
        cfg = load_found_config(args.config)
        # --- NSM: under a session manager the session's state is the config (kelly_jack/nsm) ---
        if os.environ.get("NSM_URL"):
            from .nsm import NsmExit, join_session

            try:
                nsm, cfg = join_session(os.environ["NSM_URL"], cfg)
            except NsmExit as e:
                if str(e):
                    print(e, file=sys.stderr)
                return _leave_now(e.code)
        if args.server:
            cfg["client"]["server"] = args.server
        if args.name and nsm is not None:
            print("kelly-jack: NSM: --name ignored: the JACK client name is the session's client id", file=sys.stderr)
        elif args.name:
            cfg["client"]["name"] = args.name
        from .compile_workers import precompile

        precompile(cfg)  # a cold Numba cache: the kernel groups compile side by side in worker processes
        backend, generators = build_engine_parts(cfg)
        from .osc import open_osc  # the OSC port binds now: a port in use is a config error (exit 2)

        control = open_osc(cfg)
    except ConfigError as e:
        print(f"kelly-jack: {e}", file=sys.stderr)
        if nsm is not None:
            nsm.open_failed(ERR_BAD_PROJECT, f"kelly-jack: {e}")
            nsm.close()
        return EXIT_USAGE

    from .app import run  # imports JACK and the compiled kernels
    from .jack.client import ServerNotRunning

    try:
        extras = {"control": control, "monitor": args.monitor, "nsm": nsm}  # OSC, live monitor, NSM
        code = run(cfg, backend, args.duration, args.status, generators=generators, **extras)
    except ServerNotRunning as e:
        print(f"kelly-jack: {e}", file=sys.stderr)
        if nsm is not None:
            nsm.open_failed(ERR_GENERAL, f"kelly-jack: {e}")
        code = EXIT_NO_SERVER
    finally:
        if control is not None:
            control.stop()  # closes the port when run() did not get to start it
        if nsm is not None:
            nsm.close()
    return _leave_now(code) if nsm is not None else code


def _leave_now(code: int) -> int:
    """Exit at once under NSM, which quits clients with SIGTERM and waits for them: everything is closed and
    saved by now, and the interpreter's teardown of Numba/LLVM would add most of a second."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
