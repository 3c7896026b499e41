"""Errors raised by training, the registry and generation."""


class ModelError(Exception):
    """Root of model errors; messages are one line and fit to show a user."""


class NoServingModel(ModelError):
    """Generation was asked of a model that has no serving version yet."""
