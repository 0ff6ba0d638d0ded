"""NSM (New Session Manager, API 1.1) support: kelly as a session client when ``NSM_URL`` is set."""

from .session import NsmExit, NsmSession, join_session

__all__ = ["NsmExit", "NsmSession", "join_session"]
