"""Importing corpus files into a persona: read every file through first, then store each file
in its own transaction, counting what was read, kept, already stored and dropped.

Files are streams, read twice (the check, then the import) and never held whole, and tweets
are stored a batch at a time, so memory stays bounded whatever a file's size."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from corpora.cleaning import CleanOptions, CleanReport, clean_each
from corpora.errors import CorpusError
from corpora.formats import Format, read_corpus_file
from corpora.ingest import get_or_create_persona, store_tweets

# SQLite's page cache while a file is stored. A tweet is indexed by four hashes, so each insert
# lands on index pages at random: the default 2 MB spills them to the log over and over (a
# 5.4 M-tweet import took 289 s of system time); 128 MB holds far more of them.
SQLITE_CACHE_KIB = 131_072


@dataclass(frozen=True)
class CorpusFile:
    """A file read through and checked, not yet stored."""

    path: Path
    format: Format
    records: int  # tweets read by the check


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


def check_corpus_files(
    paths: Sequence[Path], fmt: Format | Literal["auto"] = "auto"
) -> list[CorpusFile]:
    """Read every file through before anything is stored, so one bad file means nothing is
    imported. Raises `CorpusFormatError` for the first file that cannot be read."""
    files = []
    for path in paths:
        chosen, records = read_corpus_file(path, fmt)
        files.append(CorpusFile(path, chosen, sum(1 for _ in records)))
    return files


def import_corpus_file(
    sessions: sessionmaker[Session],
    persona_name: str,
    corpus_file: CorpusFile,
    options: CleanOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> FileReport:
    """Clean `corpus_file` and store its new tweets for the persona, in one transaction.

    `on_progress` gets how many of the file's tweets have been handled so far, and how many
    there are. Another import storing the same tweets at the same moment is a `CorpusError`.
    """
    report = CleanReport()
    _, records = read_corpus_file(corpus_file.path, corpus_file.format)
    kept = clean_each(records, options, report)
    progress = (lambda _: on_progress(report.read, corpus_file.records)) if on_progress else None
    try:
        with sessions.begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
            persona = get_or_create_persona(session, persona_name)
            stored = store_tweets(session, persona, kept, progress)
    except IntegrityError as error:
        raise CorpusError(
            f"another import into {persona_name} stored the same tweets at the same time; "
            f"nothing of {corpus_file.path} was stored: import it again"
        ) from error
    if stored.duplicates:
        report.kept -= stored.duplicates
        report.dropped["duplicate"] += stored.duplicates
    return FileReport(corpus_file.path, corpus_file.format, report, stored.added, stored.updated)
