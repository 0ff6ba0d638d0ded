"""``kelly-jack`` with no subcommand: the live client on a JACK server (``kelly_jack.engine.live``).

Loads the config (under NSM, the session's), builds the backend and the
generators and opens the OSC port before JACK is touched, so a mistake is one
line and exit 2 with no server involved; then runs until a signal, the
duration or the server going away.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..config import ConfigError, load_found_config
from ..engine.parts import build_engine_parts
from ..errors import UsageError
from ..nsm.protocol import ERR_BAD_PROJECT, ERR_GENERAL
from . import add_config_option, fail

DESCRIPTION = (
    "A JACK/PipeWire client that listens to audio, infers its emotion with a pluggable model "
    "and sends valence/arousal as MIDI on its midi_out port, sample-aligned and with its "
    "latency accounted. Patch its ports in qjackctl or Carla. Stop with Ctrl-C."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The live client's options, on the top-level parser."""
    add_config_option(p)
    p.add_argument("--server", metavar="NAME", help="JACK server name (overrides client.server)")
    p.add_argument("--name", metavar="NAME", help="JACK client name (overrides client.name)")
    p.add_argument("--duration", metavar="SECONDS", type=float, help="stop after this many seconds")
    live = p.add_mutually_exclusive_group()
    live.add_argument("--status", action="store_true", help="show valence/arousal, latency and MIDI live")
    live.add_argument("--monitor", action="store_true", help="show the live monitor (kelly-jack monitor) here")
    p.add_argument("--version", action="version", version=f"kelly-jack {__version__}")


def main(args: argparse.Namespace) -> int:
    """Run the live client; raises KellyError (a bad argument or config) before JACK is touched."""
    from ..warm import announce_compiles

    announce_compiles()  # a start with an empty Numba cache says what it waits for
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    nsm = None
    try:
        cfg = load_found_config(args.config)
        # --- NSM: under a session manager the session's state is the config (kelly_jack/nsm) ---
        if os.environ.get("NSM_URL"):
            from ..nsm import NsmExit, join_session

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
        from ..compile_workers import precompile

        precompile(cfg)  # a cold Numba cache: the kernel groups compile side by side in worker processes
        backend, generators = build_engine_parts(cfg)
        from ..osc import open_osc  # the OSC port binds now: a port in use is a config error (exit 2)

        control = open_osc(cfg)
    except ConfigError as e:
        if nsm is None:
            raise
        code = fail(e)
        nsm.open_failed(ERR_BAD_PROJECT, f"kelly-jack: {e}")
        nsm.close()
        return code

    from ..engine.live import run  # imports JACK and the compiled kernels
    from ..jack.client import ServerNotRunning

    try:
        extras = {"control": control, "monitor": args.monitor, "nsm": nsm}  # OSC, live monitor, NSM
        code = run(cfg, backend, args.duration, args.status, generators=generators, **extras)
    except ServerNotRunning as e:
        code = fail(e)  # exit 3
        if nsm is not None:
            nsm.open_failed(ERR_GENERAL, f"kelly-jack: {e}")
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
