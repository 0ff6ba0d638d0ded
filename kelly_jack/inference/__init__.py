"""The inference side: the thread that runs the backend once per hop."""

from .thread import InferenceThreadManager

__all__ = ["InferenceThreadManager"]
