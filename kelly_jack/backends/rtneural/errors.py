"""The error every RTNeural-model problem becomes: one line naming the layer and what is wrong."""

from ...errors import KellyError


class ModelError(KellyError):
    """A model file that cannot be run as written."""
