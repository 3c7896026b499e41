"""One reader per corpus file format. Each turns chunks of decoded text into `RawTweet`s with
`place` set, one record at a time (never holding the whole text), or raises `CorpusFormatError`
naming the line or record that cannot be read.

JSON is read by the standard library's decoder one record (a tweet object) at a time: it names
the line and column of an error, keeps integers of any length (an id too long for X is dropped
later, not the file) and refuses nesting deeper than Python's stack. A streaming JSON library
(ijson 3.6, C backend) was tried instead: it names no place, refuses integers over 64 bits,
and its memory grows with the square of the nesting (a file of 1 MB of `[` took 22 GB before
the kernel killed it).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from collections import deque
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any

from corpora.errors import CorpusFormatError
from corpora.limits import MAX_JSON_DEPTH, MAX_RECORD_CHARS, MAX_TWEET_CHARS
from corpora.records import RawTweet

TEXT_COLUMNS = ("text", "full_text", "tweet", "content")
ID_COLUMNS = ("id_str", "id", "tweet_id")
DATE_COLUMNS = ("created_at", "date", "timestamp")
TEXT_FIELDS = ("full_text", "text")  # full_text first: the API's `text` may be truncated
ARCHIVE_PREFIX = re.compile(r"\s*window\.YTD\.tweets?\.part\d+\s*=\s*")
TWITTER_DATE = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
ID_DIGITS = 20  # X status ids are 64-bit numbers
AUTHOR_CHARS = 100  # the longest author name stored (storage.corpus.Tweet.author)
# What a database cannot store and only a JSON escape can write: NUL and lone surrogates.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Strings (skipped) and brackets, for finding where JSON nests too deeply.
JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|(?P<open>[\[{])|(?P<close>[\]}])')
# What a tweet is read from (`tweet_from_object`), kept while a top-level JSON object is read.
TWEET_FIELDS = frozenset({
    *TEXT_FIELDS, "id_str", "id", "screen_name", "username", "author", "user", "created_at",
    "in_reply_to_status_id_str", "in_reply_to_status_id",
})
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as `open(..., newline="")` splits lines
JSON_SPACE = re.compile(r"[ \t\n\r]*")
DECODER = json.JSONDecoder()
CUT_TOKEN = 12  # a JSON error this close to the end of what is held may be a token cut in two


def parse_date(value: object) -> datetime | None:
    """A tweet time from ISO 8601 or X's classic format; naive times are taken as UTC.

    Unknown formats give None: a date is a nicety, never a reason to reject a corpus.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.strptime(value, TWITTER_DATE)
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status_id(value: object) -> str | None:
    """An X status id as digits, or None (ids mangled into floats by spreadsheets are not kept,
    nor anything too long to be an id)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and (digits := value.strip()).isascii() and digits.isdigit():
        return digits if len(digits) <= ID_DIGITS else None
    return None


def _storable(text: str) -> str:
    """`text` without the characters a database cannot store (see `UNSTORABLE`)."""
    return UNSTORABLE.sub("", text)


def _author(tweet: dict[str, Any]) -> str | None:
    user = tweet.get("user")
    for value in (tweet.get("screen_name"), tweet.get("username"), tweet.get("author"),
                  user.get("screen_name") if isinstance(user, dict) else None):
        if isinstance(value, str) and 0 < len(value) <= AUTHOR_CHARS:
            return _storable(value) or None
    return None


def _shown(name: str) -> str:
    """`name` fit for a one-line message: at most 40 characters, with line breaks and control
    characters (terminal escapes) made spaces."""
    printable = "".join(char if char.isprintable() else " " for char in name[:80])
    return " ".join(printable.split())[:40]


def _names(names: Iterable[str], empty: str) -> str:
    """Up to 8 names (keys, column headers) for an error message, each as `_shown`."""
    return ", ".join(islice(filter(None, map(_shown, names)), 8)) or empty


def tweet_from_object(item: object, path: Path, place: str) -> RawTweet:
    """Map one JSON tweet (API v1/v2, archive `{"tweet": {...}}`, scraper style) to a RawTweet."""
    if isinstance(item, dict) and isinstance(item.get("tweet"), dict):
        item = item["tweet"]
    if not isinstance(item, dict):
        found = type(item).__name__
        raise CorpusFormatError(path, place, f"expected a tweet object, found {found}")
    field = next((name for name in TEXT_FIELDS if name in item), None)
    if field is None:
        found = _names(item, "nothing")
        raise CorpusFormatError(path, place, f"no text or full_text field (found {found})")
    text = item[field]
    if not isinstance(text, str):
        shown = type(text).__name__ if isinstance(text, list | dict) else json.dumps(text)[:40]
        raise CorpusFormatError(path, place, f"{field} is {shown}, not text")
    return RawTweet(
        text=_storable(text),
        source_id=_status_id(item.get("id_str", item.get("id"))),
        author=_author(item),
        created_at=parse_date(item.get("created_at")),
        is_reply=bool(item.get("in_reply_to_status_id_str") or item.get("in_reply_to_status_id")),
        place=place,
    )


def _too_deep(text: str, start: int, depth: int) -> int:
    """The offset where `text`, read from `start` at `depth` levels, first nests deeper than
    `MAX_JSON_DEPTH` (`start` if it never does)."""
    for token in JSON_NESTING.finditer(text, start):
        depth += bool(token["open"]) - bool(token["close"])
        if depth > MAX_JSON_DEPTH:
            return token.start()
    return start


class _JsonText:
    """JSON text read from chunks and held only from the value being read on, so one record is
    in memory at a time; errors name their line and column in the file (`line`: where the
    text starts)."""

    def __init__(self, chunks: Iterable[str], path: Path, line: int = 1) -> None:
        self.chunks, self.path = iter(chunks), path
        self.text, self.at = "", 0  # what is held, and the position in it
        self.line, self.column = line, 1  # where text[0] is
        self.ended = False

    def more(self) -> bool:
        """Drop what was read and append the next chunk; False at the end of the text."""
        dropped = self.text[:self.at]
        breaks = dropped.count("\n")
        self.line += breaks
        self.column = len(dropped) - dropped.rfind("\n") if breaks else self.column + len(dropped)
        chunk = next(self.chunks, None)
        self.text, self.at, self.ended = self.text[self.at:] + (chunk or ""), 0, chunk is None
        return not self.ended

    def error(self, reason: str, offset: int | None = None) -> CorpusFormatError:
        """`reason` at `offset` in what is held (the position by default) as `line L column C`."""
        offset = self.at if offset is None else offset
        breaks = self.text.count("\n", 0, offset)
        column = offset - self.text.rfind("\n", 0, offset) if breaks else self.column + offset
        return CorpusFormatError(self.path, f"line {self.line + breaks} column {column}", reason)

    def peek(self) -> str:
        """The next character that is not white space ('' at the end), left unread."""
        while True:
            self.at = JSON_SPACE.match(self.text, self.at).end()
            if self.at < len(self.text) or not self.more():
                return self.text[self.at:self.at + 1]

    def step(self, char: str, expected: str) -> None:
        """Read `char`, or fail naming what was `expected` (truncated JSON at the end)."""
        if self.peek() != char:
            raise self.unexpected(expected)
        self.at += 1

    def unexpected(self, expected: str) -> CorpusFormatError:
        """The error for something else than `expected` at the position."""
        at_end = self.ended and self.at >= len(self.text)
        return self.error("truncated JSON" if at_end else f"bad JSON (Expecting {expected})")

    def _read_on(self, error: json.JSONDecodeError | None = None) -> bool:
        """Read on for a value that may be cut at the end of what is held (an error near that
        end, or an unterminated string): True when it is to be decoded again, False when the
        text has ended. A value longer than `MAX_RECORD_CHARS` is refused."""
        if error and error.pos < len(self.text) - CUT_TOKEN and "Unterminated" not in error.msg:
            return False
        if len(self.text) - self.at > MAX_RECORD_CHARS:
            reason = f"JSON record longer than {MAX_RECORD_CHARS:,} characters (no tweet is)"
            raise self.error(reason)
        if self.ended:
            return False
        self.more()  # positions move: decode again even at the end
        return True

    def value(self, depth: int) -> Any:
        """Decode the JSON value at the position, `depth` levels deep, reading on as needed."""
        self.peek()
        while True:
            try:
                value, end = DECODER.raw_decode(self.text, self.at)
            except json.JSONDecodeError as error:
                if self._read_on(error):
                    continue
                truncated = self.ended and error.pos >= len(self.text.rstrip())
                raise self.error("truncated JSON" if truncated else f"bad JSON ({error.msg})",
                                 error.pos) from None
            except RecursionError:
                reason = f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)"
                raise self.error(reason, _too_deep(self.text, self.at, depth)) from None
            except ValueError:  # int() refuses numbers longer than sys.get_int_max_str_digits()
                digits = sys.get_int_max_str_digits()
                number = re.compile(rf"\d{{{digits + 1},}}").search(self.text, self.at)
                reason = f"number too long (over {digits:,} digits)"
                raise self.error(reason, number.start() if number else None) from None
            if end == len(self.text) and self._read_on():  # a number may go on
                continue
            self.at = end
            return value

    def items(self, depth: int) -> Iterator[Any]:
        """The items of the array opening at the position, `depth` levels deep, one at a time."""
        self.step("[", "'['")
        if self.peek() == "]":
            self.at += 1
            return
        while True:
            yield self.value(depth + 1)
            if self.peek() == "]":
                self.at += 1
                return
            self.step(",", "',' delimiter")

    def members(self, depth: int) -> Iterator[str]:
        """The keys of the object opening at the position, `depth` levels deep; after each the
        position is at its value, which the caller reads."""
        self.step("{", "'{'")
        if self.peek() == "}":
            self.at += 1
            return
        while True:
            if self.peek() != '"':
                raise self.unexpected("property name enclosed in double quotes")
            key = self.value(depth + 1)
            self.step(":", "':' delimiter")
            yield key
            if self.peek() == "}":
                self.at += 1
                return
            self.step(",", "',' delimiter")

    def end(self) -> None:
        """Refuse anything but white space, or the ';' that ends a `tweets.js`, after the value."""
        if self.peek() == ";":
            self.at += 1
        if self.peek():
            raise self.error("unexpected text after the JSON value")


def _tweets(items: Iterable[Any], path: Path) -> Iterator[RawTweet]:
    return (tweet_from_object(item, path, f"record {n}") for n, item in enumerate(items, 1))


def _held_tweets(text: _JsonText, path: Path) -> Iterator[RawTweet]:
    """The tweets of a top-level JSON object: the items of its first list of objects, or the
    object itself when a text field comes before any such list."""
    fields: dict[str, Any] = {}  # what a tweet is read from, never a whole list
    keys: list[str] = []  # the first few, for an error message
    empty_list = streamed = False
    for key in text.members(0):
        if len(keys) < 8:
            keys.append(key)
        if text.peek() != "[":
            value = text.value(1)
            if key in TWEET_FIELDS:
                fields[key] = value
            continue
        items = text.items(1)
        first = None if streamed or any(name in fields for name in TEXT_FIELDS) else next(items, ())
        if isinstance(first, dict):
            streamed = True
            yield from _tweets(chain([first], items), path)
        empty_list = empty_list or first == ()
        deque(items, maxlen=0)  # read through a list that holds no tweets
    if streamed or empty_list:
        return
    if not any(name in fields for name in TEXT_FIELDS):
        found = _names(keys, "none")
        raise CorpusFormatError(path, None, f"no list of tweets found (keys: {found})")
    yield tweet_from_object(fields, path, "record 1")


def read_json(chunks: Iterable[str], path: Path) -> Iterator[RawTweet]:
    """A JSON list of tweet objects, or an object holding one under any key (e.g. "tweets")."""
    text = _JsonText(chunks, path)
    start = text.peek()
    if start == "[":
        yield from _tweets(text.items(0), path)
    elif start == "{":
        yield from _held_tweets(text, path)
    else:
        found = type(text.value(0)).__name__
        raise CorpusFormatError(path, None, f"expected a list of tweets, found {found}")
    text.end()


def read_archive(chunks: Iterable[str], path: Path) -> Iterator[RawTweet]:
    """An X archive `tweets.js`: `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`."""
    text = _JsonText(chunks, path)
    text.more()
    prefix = ARCHIVE_PREFIX.match(text.text)
    if prefix is None:
        raise CorpusFormatError(
            path, "line 1", "not an X archive (expected 'window.YTD.tweets.part0 = ')"
        )
    text.at = prefix.end()
    if text.peek() != "[":
        text.value(0)  # bad JSON is named first
        raise CorpusFormatError(path, "line 1", "not an X archive (expected a list after '=')")
    yield from _tweets(text.items(0), path)
    text.end()


def _lines(chunks: Iterable[str], path: Path) -> Iterator[str]:
    """The lines of the text with their line breaks (\n, \r\n or \r), one at a time; a line
    longer than `MAX_RECORD_CHARS` is refused before it is read on."""
    rest, number = "", 1
    for chunk in chunks:
        text, start = rest + chunk, 0
        for line_break in LINE_BREAK.finditer(text):
            if line_break.end() == len(text) and line_break[0] == "\r":
                break  # maybe the first half of \r\n
            yield text[start:line_break.end()]
            start, number = line_break.end(), number + 1
        rest = text[start:]
        if len(rest) > MAX_RECORD_CHARS:
            reason = f"line longer than {MAX_RECORD_CHARS:,} characters (no tweet record is)"
            raise CorpusFormatError(path, f"line {number}", reason)
    if rest:
        yield rest


def read_jsonl(chunks: Iterable[str], path: Path) -> Iterator[RawTweet]:
    """One JSON tweet object per line; blank lines are skipped."""
    for number, line in enumerate(_lines(chunks, path), 1):
        if line.strip():
            text = _JsonText([line.rstrip("\r\n")], path, number)
            item = text.value(0)
            text.end()
            yield tweet_from_object(item, path, f"line {number}")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [cell.strip().casefold() for cell in header]
    return next((lowered.index(name) for name in names if name in lowered), None)


def _cell(row: list[str], at: int | None) -> str | None:
    return row[at] if at is not None and at < len(row) else None


def _csv_rows(lines: Iterable[str], path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted field may span lines). The csv module's
    longest field, a process-wide setting, is `MAX_TWEET_CHARS` only while a row is read."""
    reader = csv.reader(lines, strict=True)
    line = 1
    while True:
        previous = csv.field_size_limit(MAX_TWEET_CHARS)
        try:
            row = next(reader, None)
        except csv.Error as error:
            too_long = str(error).startswith("field larger than field limit")
            reason = (f"field longer than {MAX_TWEET_CHARS:,} characters, the most a tweet may have"
                      if too_long else f"bad CSV ({error})")
            raise CorpusFormatError(path, f"line {line}", reason) from None
        finally:
            csv.field_size_limit(previous)
        if row is None:
            return
        yield line, row
        line = reader.line_num + 1


def read_csv(chunks: Iterable[str], path: Path) -> Iterator[RawTweet]:
    """CSV with a header naming the text column (text, full_text, tweet or content).

    An unnamed leading index column (as pandas writes) is ignored; `id` and `created_at`
    columns are used when present. A field over `MAX_TWEET_CHARS` stops the reading.
    """
    rows = _csv_rows(_lines(chunks, path), path)
    _, header = next(rows, (1, []))
    text_at = _column(header, TEXT_COLUMNS)
    if text_at is None:
        looked, found = ", ".join(TEXT_COLUMNS), _names(header, "nothing")
        raise CorpusFormatError(path, None, f"no text column (looked for {looked}; found {found})")
    id_at, date_at = _column(header, ID_COLUMNS), _column(header, DATE_COLUMNS)
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if text_at >= len(row):
            reason = f"row has {len(row)} fields, the header has {len(header)}"
            raise CorpusFormatError(path, f"line {line}", reason)
        yield RawTweet(
            text=row[text_at],
            source_id=_status_id(_cell(row, id_at)),
            created_at=parse_date(_cell(row, date_at)),
            place=f"line {line}",
        )


def read_text(chunks: Iterable[str], path: Path) -> Iterator[RawTweet]:
    """One post per line; a first line that is exactly `text` is a header and is skipped."""
    for number, line in enumerate(_lines(chunks, path), 1):
        if (number == 1 and line.strip() == "text") or not line.strip():
            continue
        yield RawTweet(text=line.rstrip("\r\n"), place=f"line {number}")
