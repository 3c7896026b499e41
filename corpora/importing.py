"""Importing corpus files into a persona: read and check every file first, then store each
file in its own transaction, counting what was read, kept, already stored and dropped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from corpora.cleaning import CleanOptions, CleanReport, clean
from corpora.formats import Format, read_corpus_file
from corpora.ingest import get_or_create_persona, store_tweets
from corpora.records import RawTweet


@dataclass(frozen=True)
class CorpusFile:
    """A file read and checked, not yet stored."""

    path: Path
    format: Format
    records: list[RawTweet]


@dataclass
class FileReport:
    """What importing one file did. `cleaning.dropped` counts tweets dropped per reason."""

    path: Path
    format: Format
    cleaning: CleanReport
    added: int
    updated: int = 0  # stored tweets whose text this import's cleaning rewrote

    @property
    def already_stored(self) -> int:
        """Kept tweets the persona already had (from an earlier import or an earlier file)."""
        return self.cleaning.kept - self.added - self.updated


def read_corpus_files(
    paths: Sequence[Path], fmt: Format | Literal["auto"] = "auto"
) -> list[CorpusFile]:
    """Read every file before anything is stored, so one bad file means nothing is imported.

    Raises `CorpusFormatError` for the first file that cannot be read.
    """
    files = []
    for path in paths:
        chosen, records = read_corpus_file(path, fmt)
        files.append(CorpusFile(path, chosen, records))
    return files


def import_corpus_file(
    sessions: sessionmaker[Session],
    persona_name: str,
    corpus_file: CorpusFile,
    options: CleanOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> FileReport:
    """Clean `corpus_file` and store its new tweets for the persona, in one transaction.

    `on_progress` gets how many of how many cleaned tweets have been handled so far.
    """
    kept, report = clean(corpus_file.records, options)
    progress = (lambda done: on_progress(done, len(kept))) if on_progress else None
    with sessions.begin() as session:
        persona = get_or_create_persona(session, persona_name)
        stored = store_tweets(session, persona, kept, progress)
    return FileReport(corpus_file.path, corpus_file.format, report, stored.added, stored.updated)
