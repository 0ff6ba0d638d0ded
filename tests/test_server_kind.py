"""Telling PipeWire's libjack from jackd2's (kelly_jack.jack.server_kind)."""

from __future__ import annotations

import pytest

from kelly_jack.jack import server_kind

from support.jackd import ON_PIPEWIRE


def test_pipewire_is_told_from_jack2_by_the_loaded_libjack():
    assert server_kind.server_kind("/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack/libjack.so.0", "1.9.17") == "PipeWire"
    assert server_kind.server_kind("/usr/lib/libjack.so.0", "1.9.17 (PipeWire 1.2.7)") == "PipeWire"
    assert server_kind.server_kind("/usr/lib/x86_64-linux-gnu/libjack.so.0.1.0", "1.9.21") == "JACK2"


def test_this_process_maps_a_libjack_once_jack_is_imported():
    import jack  # noqa: F401

    assert "libjack.so" in server_kind.loaded_libjack()


@pytest.mark.pipewire
def test_through_pipewire_says_which_leg_this_is():
    """The jackd leg loads jackd2's libjack, the PipeWire leg (under pw-jack) PipeWire's."""
    assert server_kind.through_pipewire() is ON_PIPEWIRE
