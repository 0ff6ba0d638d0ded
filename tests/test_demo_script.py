"""scripts/demo as a user runs it on a machine with no JACK server: it starts a private jackd, plays its
source into kelly and fluidsynth, and stops every process it started, the server last, so that JACK's
table of servers in /dev/shm (eight slots, machine-wide) keeps nothing of it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from kelly_jack.engine.checks import running_processes

from support.jackd import dies_with_us, have_jackd

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = Path("/dev/shm/jack-shm-registry")

pytestmark = [pytest.mark.jack, pytest.mark.skipif(not have_jackd(), reason="jackd is not installed")]


def test_the_demo_runs_then_leaves_no_server_slot_or_process_behind():
    # a default server name nobody runs: the demo must start its own, never use one it finds
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"kelly-test-absent-{os.getpid()}")
    r = subprocess.run(
        dies_with_us([str(ROOT / "scripts" / "demo"), "4"]), capture_output=True, text=True, timeout=300, env=env
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    server = re.search(r"starting a private one \((kelly-demo-\d+),", out)
    assert server, out[-3000:]
    assert re.search(r"kelly-jack summary: \d+ periods", out), out[-3000:]
    assert not [argv for _, argv in running_processes() if any(server.group(1) in a for a in argv)]  # none left
    assert REGISTRY.is_file()  # the demo's server registered in it
    assert server.group(1).encode() not in REGISTRY.read_bytes()
