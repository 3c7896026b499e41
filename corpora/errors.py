"""Errors raised while reading or collecting corpora."""

from __future__ import annotations

from pathlib import Path


class CorpusError(Exception):
    """Root of corpus errors; messages are one line and fit to show a user."""


class CorpusFormatError(CorpusError):
    """A corpus file cannot be read; names the file and the line or record."""

    def __init__(self, path: Path | str, place: str | None, reason: str) -> None:
        self.path = Path(path)
        self.place = place
        self.reason = reason
        where = f"{self.path}" + (f", {place}" if place else "")
        super().__init__(f"{where}: {reason}")


class CollectionError(CorpusError):
    """Collecting from the X API failed or cannot start; what was stored before stays stored."""


class XCredentialsError(CollectionError):
    """The X token is missing or X rejected it. The message never contains the token."""


class XUnavailableError(CollectionError):
    """X kept failing (5xx or network) after the retries."""
