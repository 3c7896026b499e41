"""Corpus file formats: reading a file's bytes as a stream of checked text, detecting its format,
and dispatching to the matching reader in `corpora.readers`.

A file is read `CHUNK_BYTES` at a time and never held whole: the readers turn the chunks into
tweets one record at a time, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import BinaryIO, Literal, get_args

from corpora import readers
from corpora.errors import CorpusFormatError
from corpora.limits import MAX_FILE_BYTES, MAX_TWEET_CHARS
from corpora.records import RawTweet

Format = Literal["archive", "csv", "json", "jsonl", "text"]
FORMATS: tuple[Format, ...] = get_args(Format)
READERS: dict[Format, Callable[[Iterable[str], Path], Iterator[RawTweet]]] = {
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
CHUNK_BYTES = 1 << 20
# Control characters never found in text files (tab, newlines, form feed and escape are allowed).
BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
BINARY_TEXT = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# Byte-order marks, the encodings they announce and their codecs (UTF-32 first: its mark begins
# as UTF-16's). Without one a file is read as UTF-8.
BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32-le"), (codecs.BOM_UTF32_BE, "UTF-32", "utf-32-be"),
    (codecs.BOM_UTF8, "UTF-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16-le"), (codecs.BOM_UTF16_BE, "UTF-16", "utf-16-be"),
)


def _too_large(path: Path) -> CorpusFormatError:
    limit = f"{MAX_FILE_BYTES / 1e6:,.0f} MB"
    return CorpusFormatError(path, None, f"file too large (over {limit}); split it up")


def _undecodable(
    path: Path, encoding: str, error: UnicodeDecodeError, offset: int, size: int, lines: int
) -> CorpusFormatError:
    """`error` decoding `size` bytes read after `offset` bytes and `lines` line breaks, placed
    in the file (the decoder puts bytes left over from the previous chunk first)."""
    data = error.object
    start = offset - (len(data) - size) + error.start
    if encoding != "UTF-8":  # its line breaks are not single bytes
        return CorpusFormatError(path, None, f"not {encoding} text (bad bytes at byte {start})")
    line = lines + data.count(b"\n", 0, error.start) + 1
    bad = data[error.start]
    reason = f"not UTF-8 text (byte 0x{bad:02x} at byte {start}); save the file as UTF-8"
    return CorpusFormatError(path, f"line {line}", reason)


def text_chunks(path: Path) -> Iterator[str]:
    """The file's text, `CHUNK_BYTES` at a time: UTF-8, or UTF-16 or UTF-32 announced by a
    byte-order mark (a mark is dropped), checked as it is read.

    Raises `CorpusFormatError` for a missing, binary, undecodable or blank file, or one over
    `MAX_FILE_BYTES` (refused by its size before reading, and never read past the limit).
    """
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES:
                raise _too_large(path)
            yield from _decoded(handle, path)
    except FileNotFoundError:
        raise CorpusFormatError(path, None, "no such file") from None
    except IsADirectoryError:
        raise CorpusFormatError(path, None, "is a folder, not a file") from None
    except OSError as error:
        raise CorpusFormatError(path, None, f"cannot read ({error.strerror})") from None


def _decoded(handle: BinaryIO, path: Path) -> Iterator[str]:
    """`text_chunks` of an open file."""
    data = handle.read(CHUNK_BYTES)
    bom, encoding, codec = next((mark for mark in BOMS if data.startswith(mark[0])),
                                (b"", "UTF-8", "utf-8"))
    decoder = codecs.getincrementaldecoder(codec)()
    data, offset, lines = data[len(bom):], len(bom), 0  # bytes and line breaks before `data`
    blank = True
    while True:
        if offset + len(data) > MAX_FILE_BYTES:
            raise _too_large(path)
        if encoding == "UTF-8" and (binary := BINARY.search(data)):
            reason = f"not a text file (binary data at byte {offset + binary.start()})"
            raise CorpusFormatError(path, None, reason)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            raise _undecodable(path, encoding, error, offset, len(data), lines) from None
        if encoding != "UTF-8" and BINARY_TEXT.search(text):
            reason = f"not a text file (binary data in its {encoding} text)"
            raise CorpusFormatError(path, None, reason)
        blank = blank and (not text or text.isspace())  # not text.strip(): no copy
        if text:
            yield text
        if not data:
            break
        offset, lines = offset + len(data), lines + data.count(b"\n")
        data = handle.read(CHUNK_BYTES)
    if blank:
        raise CorpusFormatError(path, None, "empty file")


def _is_jsonl(text: str) -> bool:
    """True when the first line is a whole JSON value and more lines follow."""
    first, _, rest = text.lstrip().partition("\n")
    try:
        json.loads(first)
    except (RecursionError, ValueError):  # bad JSON: read_json names the error
        return False
    return bool(rest.strip())


def _looks_like_csv(text: str) -> bool:
    try:
        header = next(csv.reader([text.partition("\n")[0]]), [])
    except csv.Error:  # a broken or huge quoted field: not a header
        return False
    names = {cell.strip().casefold() for cell in header}
    return len(header) > 1 and bool(names & set(readers.TEXT_COLUMNS))


def detect_format(path: Path, head: str) -> Format:
    """Guess a file's format from the start of its text, with the extension breaking ties.

    `window.YTD.` opens an X archive; `[` JSON; `{` JSONL when the first line is a whole object
    and more follow, else JSON. Otherwise a `.csv`/`.txt`/... extension decides, and without one a
    header row naming a text column among several columns means CSV, anything else plain text.
    """
    start = head.lstrip()
    by_extension = EXTENSIONS.get(path.suffix.casefold())
    if start.startswith("window.") or by_extension == "archive":
        return "archive"
    if start.startswith("["):
        return "json"
    if start.startswith("{"):
        return "jsonl" if by_extension == "jsonl" or _is_jsonl(start) else "json"
    if by_extension:
        return by_extension
    return "csv" if _looks_like_csv(head) else "text"


def _checked(path: Path, records: Iterator[RawTweet]) -> Iterator[RawTweet]:
    """`records`, stopping at the first tweet longer than `MAX_TWEET_CHARS` (refused, not cut)."""
    for record in records:
        if len(record.text) > MAX_TWEET_CHARS:
            length = f"{len(record.text):,} characters; the limit is {MAX_TWEET_CHARS:,}"
            raise CorpusFormatError(path, record.place, f"tweet too long ({length})")
        yield record


def read_corpus_file(
    path: Path, fmt: Format | Literal["auto"] = "auto"
) -> tuple[Format, Iterator[RawTweet]]:
    """The file's format (detected from its first chunk unless given) and its tweets, read as
    they are iterated over.

    A missing, binary or too large file is refused here; anything found further on raises
    `CorpusFormatError`, naming the line or record, while the tweets are iterated over.
    """
    chunks = text_chunks(path)
    head = next(chunks, "")
    chosen = detect_format(path, head) if fmt == "auto" else fmt
    return chosen, _checked(path, READERS[chosen](chain([head], chunks), path))
