"""Corpus file formats: reading a file's bytes as text, detecting its format, and dispatching
to the matching reader in `corpora.readers`."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from corpora import readers
from corpora.errors import CorpusFormatError
from corpora.limits import MAX_FILE_BYTES, MAX_TWEET_CHARS
from corpora.records import RawTweet

Format = Literal["archive", "csv", "json", "jsonl", "text"]
FORMATS: tuple[Format, ...] = get_args(Format)
READERS: dict[Format, Callable[[str, Path], list[RawTweet]]] = {
    "archive": readers.read_archive,
    "csv": readers.read_csv,
    "json": readers.read_json,
    "jsonl": readers.read_jsonl,
    "text": readers.read_text,
}
EXTENSIONS: dict[str, Format] = {
    ".js": "archive", ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".txt": "text",
}
# Control bytes never found in text files (tab, newlines, form feed and escape are allowed).
BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def read_text_file(path: Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is dropped).

    Raises `CorpusFormatError` for a missing, binary, non-UTF-8, empty or too large file (over
    `MAX_FILE_BYTES`: refused by its size before reading, and never read past the limit).
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = b"" if size > MAX_FILE_BYTES else handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CorpusFormatError(path, None, "no such file") from None
    except IsADirectoryError:
        raise CorpusFormatError(path, None, "is a folder, not a file") from None
    except OSError as error:
        raise CorpusFormatError(path, None, f"cannot read ({error.strerror})") from None
    if max(size, len(data)) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES / 1e6:,.0f} MB"
        raise CorpusFormatError(path, None, f"file too large (over {limit}); split it up")
    if binary := BINARY.search(data):
        reason = f"not a text file (binary data at byte {binary.start()})"
        raise CorpusFormatError(path, None, reason)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start]
        raise CorpusFormatError(
            path, f"line {line}",
            f"not UTF-8 text (byte 0x{bad:02x} at byte {error.start}); save the file as UTF-8",
        ) from None
    if not text or text.isspace():  # not text.strip(), which would copy the text
        raise CorpusFormatError(path, None, "empty file")
    return text


def _is_jsonl(text: str) -> bool:
    """True when the first line is a whole JSON value and more lines follow."""
    first, _, rest = text.lstrip().partition("\n")
    try:
        json.loads(first)
    except (json.JSONDecodeError, RecursionError):  # read_json names the error
        return False
    return bool(rest.strip())


def _looks_like_csv(text: str) -> bool:
    try:
        header = next(csv.reader([text.partition("\n")[0]]), [])
    except csv.Error:  # a broken or huge quoted field: not a header
        return False
    names = {cell.strip().casefold() for cell in header}
    return len(header) > 1 and bool(names & set(readers.TEXT_COLUMNS))


def detect_format(path: Path, text: str) -> Format:
    """Guess a file's format from its content, with the extension breaking ties.

    `window.YTD.` opens an X archive; `[` JSON; `{` JSONL when the first line is a whole object
    and more follow, else JSON. Otherwise a `.csv`/`.txt`/... extension decides, and without one a
    header row naming a text column among several columns means CSV, anything else plain text.
    """
    start = text.lstrip()
    by_extension = EXTENSIONS.get(path.suffix.casefold())
    if start.startswith("window.") or by_extension == "archive":
        return "archive"
    if start.startswith("["):
        return "json"
    if start.startswith("{"):
        return "jsonl" if by_extension == "jsonl" or _is_jsonl(start) else "json"
    if by_extension:
        return by_extension
    return "csv" if _looks_like_csv(text) else "text"


def read_corpus_file(
    path: Path, fmt: Format | Literal["auto"] = "auto"
) -> tuple[Format, list[RawTweet]]:
    """Read every tweet in `path` (format detected unless given); the format used comes back too.

    Raises `CorpusFormatError` naming the file and the line or record that cannot be read, or
    the first tweet longer than `MAX_TWEET_CHARS` (refused, not truncated).
    """
    text = read_text_file(path)
    chosen = detect_format(path, text) if fmt == "auto" else fmt
    records = READERS[chosen](text, path)
    if too_long := next((r for r in records if len(r.text) > MAX_TWEET_CHARS), None):
        raise CorpusFormatError(
            path, too_long.place,
            f"tweet too long ({len(too_long.text):,} characters; the limit is {MAX_TWEET_CHARS:,})",
        )
    return chosen, records
