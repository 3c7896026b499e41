"""Errors fit to show a user as one line, and the package roots the edge translates."""

from corpora.errors import CorpusError
from models.errors import ModelError


class NowbotError(Exception):
    """A service-level error whose message is fit to show a user as is."""


# Each package has its own root error; the CLI, dashboard and Discord handlers catch these.
USER_ERRORS: tuple[type[Exception], ...] = (NowbotError, CorpusError, ModelError)
