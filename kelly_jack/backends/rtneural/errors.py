"""The error every RTNeural-model problem becomes: one line naming the layer and what is wrong."""


class ModelError(Exception):
    """A model file that cannot be run as written."""
