"""Bad MIDI into a running kelly on a real jackd: running status, SysEx, truncated and malformed
messages, realtime bytes and other channel messages. kelly keeps running, counts exactly the valid
control changes it listens to (``N CC in`` in its summary) and exits cleanly."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from support.cfunc_clients import Player
from support.jackd import ON_PIPEWIRE, Kelly, wait_until, write_config

pytestmark = [pytest.mark.jack, pytest.mark.pipewire]

INVALID = {
    "running status: data bytes only": [22, 100],
    "running status: two CCs in one event": [0xB0, 22, 10, 23, 20],
    "running status: three data bytes": [22, 10, 23],
    "SysEx": [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7],
    "SysEx with a CC inside": [0xF0, 0xB0, 22, 5, 0xF7],
    "long SysEx": [0xF0] + [0x11] * 298 + [0xF7],
    "SysEx without its end": [0xF0, 0x01, 0x02],
    "truncated CC: status only": [0xB0],
    "truncated CC: no value": [0xB0, 22],
    "CC value over 127": [0xB0, 22, 0xFF],
    "CC number over 127": [0xB0, 22 + 128, 10],
    "CC value 128": [0xB0, 23, 128],
    "a CC with a trailing byte": [0xB0, 24, 10, 0],
    "timing clock": [0xF8],
    "active sensing": [0xFE],
    "note on": [0x90, 22, 100],
    "program change": [0xC0, 22],
    "pitch bend": [0xE0, 22, 64],
    "unmapped CC": [0xB0, 7, 100],
    "a stray end of SysEx": [0xF7],
}
VALID = [[0xB0, 22, 0], [0xB1, 23, 127], [0xBF, 24, 64], [0xB5, 25, 127], [0xB0, 22, 127], [0xB3, 23, 1]]


def test_bad_midi_in_is_ignored_and_only_valid_ccs_count(jack_server, tmp_path):
    cfg = write_config(
        tmp_path / "k.yaml",
        jack_server,
        "kelly-midi",
        "ports: {inputs: 1}\nbackend: {name: constant, valence: 0.5, arousal: -0.5}\n",
    )
    player = Player(jack_server, np.zeros(1, dtype=np.float32), name="midi-source", midi=True)
    kelly = Kelly(jack_server, cfg)
    try:
        kelly.wait_ready()
        player.client.connect(player.midi_port, "kelly-midi:midi_in")
        for _ in range(3):  # each message in its own period, the valid ones among them
            for msg in [*INVALID.values(), *VALID]:
                player.send_midi(bytes(msg))
                assert wait_until(lambda: not player.midi_pending, 2.0)
                time.sleep(0.004)
        time.sleep(0.2)
        assert kelly.proc.poll() is None, "kelly stopped"
        code, out, err = kelly.stop()
    finally:
        kelly.stop()
        player.close()
    assert code == 0, err
    assert "Traceback" not in err
    cc_in = int(re.search(r"(\d+) CC in", out).group(1))
    xruns = int(re.search(r"(\d+) xruns", out).group(1))
    print(f"MIDI in: {3 * len(INVALID)} invalid and {3 * len(VALID)} valid messages sent; kelly counted {cc_in}")
    # a cycle JACK skips after an xrun is never heard: then a valid CC may be missing, never one too many
    # (PipeWire's libjack reports no xruns: there a lost cycle is silent)
    disturbed = xruns > 0 or ON_PIPEWIRE
    assert cc_in == 3 * len(VALID) or (disturbed and 3 * len(VALID) // 2 <= cc_in < 3 * len(VALID)), (cc_in, xruns)
