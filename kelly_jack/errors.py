"""The base of kelly's errors and the exit codes they end a command with.

Every error meant for the user derives from ``KellyError``: ``str()`` is the one
line to print, ``key`` the config key at fault (for ``file:line``, None when no
single key is) and ``exit_code`` what the command line (``kelly_jack.cli``, the
one place that turns errors into exit codes) ends with. Classes that were
``ValueError`` before keep it as a second base, so existing ``except`` clauses
still catch them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # the JACK server went away, or an unexpected error
EXIT_USAGE = 2  # bad arguments, configuration or backend block
EXIT_NO_SERVER = 3  # no JACK server running


class KellyError(Exception):
    """An error for the user: one line (``str()``), the config key at fault if any, and the exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str = "", key: str | None = None):
        super().__init__(message)
        self.key = key


class UsageError(KellyError):
    """A mistake in the command line or in the files it names: one line for the user."""
