"""One reader per corpus file format. Each turns decoded text into `RawTweet`s with `place` set,
or raises `CorpusFormatError` naming the line or record that cannot be read."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from corpora.errors import CorpusFormatError
from corpora.limits import MAX_JSON_DEPTH, MAX_TWEET_CHARS
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
# A line as `io.StringIO(text, newline="")` splits them, ending in \r\n, \r, \n or the text's end.
LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n|\Z)")


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


def _json_error(
    path: Path, text: str, error: json.JSONDecodeError, line: int | None = None
) -> CorpusFormatError:
    """`line L column C: truncated JSON` when the text ends too early, else the parser's reason.

    `line` overrides the parser's line number when `text` is one line of a larger file.
    """
    truncated = error.pos >= len(text.rstrip())
    reason = "truncated JSON" if truncated else f"bad JSON ({error.msg})"
    return CorpusFormatError(path, f"line {line or error.lineno} column {error.colno}", reason)


def _place(text: str, offset: int, line: int | None) -> str:
    """`line L column C` of `offset` in `text`; `line` overrides as in `_json_error`."""
    line = line or text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return f"line {line} column {column}"


def _too_deep(text: str) -> int:
    """The offset where `text` first nests deeper than `MAX_JSON_DEPTH` (0 if it never does)."""
    depth = 0
    for token in JSON_NESTING.finditer(text):
        depth += bool(token["open"]) - bool(token["close"])
        if depth > MAX_JSON_DEPTH:
            return token.start()
    return 0


@contextmanager
def _json_errors(path: Path, text: str, line: int | None = None) -> Iterator[None]:
    """The parser's errors on `text` as `CorpusFormatError`s with their place: bad or truncated
    JSON, nesting too deep for its stack, a number too long to convert (`line`: see `_place`)."""
    try:
        yield
    except json.JSONDecodeError as error:
        raise _json_error(path, text, error, line) from None
    except RecursionError:
        reason = f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)"
        raise CorpusFormatError(path, _place(text, _too_deep(text), line), reason) from None
    except ValueError:  # int() refuses numbers longer than sys.get_int_max_str_digits()
        digits = sys.get_int_max_str_digits()
        number = re.search(rf"\d{{{digits + 1},}}", text)
        place = _place(text, number.start() if number else 0, line)
        raise CorpusFormatError(path, place, f"number too long (over {digits:,} digits)") from None


def _decode_json(path: Path, text: str, start: int = 0) -> Any:
    """Parse one JSON value starting at `start`; errors carry positions in the whole file."""
    start += len(text[start:]) - len(text[start:].lstrip())  # raw_decode skips no whitespace
    with _json_errors(path, text):
        value, end = json.JSONDecoder().raw_decode(text, start)
    rest = text[end:].strip()
    if rest and rest != ";":
        line = text.count("\n", 0, end) + 1
        raise CorpusFormatError(path, f"line {line}", "unexpected text after the JSON value")
    return value


def _tweet_list(value: Any, path: Path) -> list[Any]:
    """The tweets in a JSON document: the list itself, or the first list of objects it holds."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if any(name in value for name in TEXT_FIELDS):
            return [value]
        lists = [item for item in value.values()
                 if isinstance(item, list) and all(isinstance(entry, dict) for entry in item)]
        if lists:
            return next((item for item in lists if item), lists[0])
        keys = _names(value, "none")
        raise CorpusFormatError(path, None, f"no list of tweets found (keys: {keys})")
    raise CorpusFormatError(path, None, f"expected a list of tweets, found {type(value).__name__}")


def read_json(text: str, path: Path) -> list[RawTweet]:
    """A JSON list of tweet objects, or an object holding one under any key (e.g. "tweets")."""
    items = _tweet_list(_decode_json(path, text), path)
    return [tweet_from_object(item, path, f"record {n}") for n, item in enumerate(items, 1)]


def read_archive(text: str, path: Path) -> list[RawTweet]:
    """An X archive `tweets.js`: `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`."""
    prefix = ARCHIVE_PREFIX.match(text)
    if prefix is None:
        raise CorpusFormatError(
            path, "line 1", "not an X archive (expected 'window.YTD.tweets.part0 = ')"
        )
    items = _decode_json(path, text, prefix.end())
    if not isinstance(items, list):
        raise CorpusFormatError(path, "line 1", "not an X archive (expected a list after '=')")
    return [tweet_from_object(item, path, f"record {n}") for n, item in enumerate(items, 1)]


def read_jsonl(text: str, path: Path) -> list[RawTweet]:
    """One JSON tweet object per line; blank lines are skipped."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        with _json_errors(path, line, number):
            item = json.loads(line)
        records.append(tweet_from_object(item, path, f"line {number}"))
    return records


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [cell.strip().casefold() for cell in header]
    return next((lowered.index(name) for name in names if name in lowered), None)


def _cell(row: list[str], at: int | None) -> str | None:
    return row[at] if at is not None and at < len(row) else None


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """The csv module's longest field (a process-wide setting) is `limit` within the block."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted field may span lines). Lines are split off
    one at a time, so the text is not copied whole."""
    reader = csv.reader((match[0] for match in LINE.finditer(text) if match[0]), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        too_long = str(error).startswith("field larger than field limit")
        reason = (f"field longer than {MAX_TWEET_CHARS:,} characters, the most a tweet may have"
                  if too_long else f"bad CSV ({error})")
        raise CorpusFormatError(path, f"line {line}", reason) from None


def read_csv(text: str, path: Path) -> list[RawTweet]:
    """CSV with a header naming the text column (text, full_text, tweet or content).

    An unnamed leading index column (as pandas writes) is ignored; `id` and `created_at`
    columns are used when present. A field over `MAX_TWEET_CHARS` stops the reading.
    """
    with _csv_field_limit(MAX_TWEET_CHARS):
        rows = _csv_rows(text, path)
        _, header = next(rows, (1, []))
        text_at = _column(header, TEXT_COLUMNS)
        if text_at is None:
            looked, found = ", ".join(TEXT_COLUMNS), _names(header, "nothing")
            reason = f"no text column (looked for {looked}; found {found})"
            raise CorpusFormatError(path, None, reason)
        id_at, date_at = _column(header, ID_COLUMNS), _column(header, DATE_COLUMNS)
        records = []
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if text_at >= len(row):
                reason = f"row has {len(row)} fields, the header has {len(header)}"
                raise CorpusFormatError(path, f"line {line}", reason)
            records.append(
                RawTweet(
                    text=row[text_at],
                    source_id=_status_id(_cell(row, id_at)),
                    created_at=parse_date(_cell(row, date_at)),
                    place=f"line {line}",
                )
            )
        return records


def read_text(text: str, path: Path) -> list[RawTweet]:
    """One post per line; a first line that is exactly `text` is a header and is skipped."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if (number == 1 and line.strip() == "text") or not line.strip():
            continue
        records.append(RawTweet(text=line, place=f"line {number}"))
    return records
