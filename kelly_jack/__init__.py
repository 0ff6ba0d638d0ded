"""kelly-jack: a JACK/PipeWire client that turns the emotion it hears into MIDI."""

import os as _os
import sys as _sys

__version__ = "0.1.0"
numba_cache_redirected = False  # True when _numba_cache_dir set NUMBA_CACHE_DIR


def _numba_cache_dir() -> None:
    """Send Numba's cache to $XDG_CACHE_HOME/kelly-jack/numba when the package folder is read-only.

    Runs at import, before any ``@njit(cache=True)`` kernel module is imported
    (Numba caches next to the source by default, which fails in a read-only
    site-packages). An explicit NUMBA_CACHE_DIR is left alone.
    """
    if _os.environ.get("NUMBA_CACHE_DIR") or _os.access(_os.path.dirname(__file__), _os.W_OK):
        return
    base = _os.environ.get("XDG_CACHE_HOME") or _os.path.join(_os.path.expanduser("~"), ".cache")
    path = _os.path.join(base, "kelly-jack", "numba")
    _os.environ["NUMBA_CACHE_DIR"] = path
    global numba_cache_redirected
    numba_cache_redirected = True
    config = getattr(_sys.modules.get("numba.core.config"), "__dict__", None)
    if config is not None:  # numba was imported first and has read its environment already
        config["CACHE_DIR"] = path


_numba_cache_dir()

from . import _kernel_cache  # noqa: E402 - after the cache folder is settled, before any kernel import

_kernel_cache.refresh(_os.environ.get("NUMBA_CACHE_DIR"))
