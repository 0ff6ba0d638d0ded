"""Which JACK implementation this process talks to: jackd2's libjack or PipeWire's.

A client opened through PipeWire's libjack (``pw-jack``, or pipewire-jack
installed as the system libjack) talks to PipeWire, one opened through jackd2's
libjack talks to jackd. So the kind is decided by the libjack this process
loaded (its path in ``/proc/self/maps``: PipeWire's lives under
``.../pipewire-0.3/jack/``) or by its version string naming PipeWire. Any thread.
"""

from __future__ import annotations

from pathlib import Path


def loaded_libjack(maps: Path = Path("/proc/self/maps")) -> str:
    """The path of the libjack this process has loaded ('' if none or unknown)."""
    try:
        for line in maps.read_text().splitlines():
            path = line.split()[-1] if line.split() else ""
            if "/libjack.so" in path:
                return path
    except OSError:
        pass
    return ""


def server_kind(libjack_path: str, version: str) -> str:
    """'PipeWire' when the loaded libjack is PipeWire's (its path or version string says so), else 'JACK2'."""
    return "PipeWire" if "pipewire" in libjack_path.lower() or "pipewire" in version.lower() else "JACK2"


def through_pipewire() -> bool:
    """Does this process reach JACK through PipeWire's libjack? (Loads libjack through JACK-Client.)"""
    import jack

    return server_kind(loaded_libjack(), jack.version_string()) == "PipeWire"
