"""One reader per corpus file format. Each turns decoded text into `RawTweet`s with `place` set,
or raises `CorpusFormatError` naming the line or record that cannot be read."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpora.errors import CorpusFormatError
from corpora.records import RawTweet

TEXT_COLUMNS = ("text", "full_text", "tweet", "content")
ID_COLUMNS = ("id_str", "id", "tweet_id")
DATE_COLUMNS = ("created_at", "date", "timestamp")
TEXT_FIELDS = ("full_text", "text")  # full_text first: the API's `text` may be truncated
ARCHIVE_PREFIX = re.compile(r"\s*window\.YTD\.tweets?\.part\d+\s*=\s*")
TWITTER_DATE = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"


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
    """An X status id as digits, or None (ids mangled into floats by spreadsheets are not kept)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def _author(tweet: dict[str, Any]) -> str | None:
    user = tweet.get("user")
    for value in (tweet.get("screen_name"), tweet.get("username"), tweet.get("author"),
                  user.get("screen_name") if isinstance(user, dict) else None):
        if isinstance(value, str) and value:
            return value
    return None


def tweet_from_object(item: object, path: Path, place: str) -> RawTweet:
    """Map one JSON tweet (API v1/v2, archive `{"tweet": {...}}`, scraper style) to a RawTweet."""
    if isinstance(item, dict) and isinstance(item.get("tweet"), dict):
        item = item["tweet"]
    if not isinstance(item, dict):
        found = type(item).__name__
        raise CorpusFormatError(path, place, f"expected a tweet object, found {found}")
    field = next((name for name in TEXT_FIELDS if name in item), None)
    if field is None:
        found = ", ".join(list(item)[:8]) or "nothing"
        raise CorpusFormatError(path, place, f"no text or full_text field (found {found})")
    text = item[field]
    if not isinstance(text, str):
        raise CorpusFormatError(path, place, f"{field} is {json.dumps(text)[:40]}, not text")
    return RawTweet(
        text=text,
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


def _decode_json(path: Path, text: str, start: int = 0) -> Any:
    """Parse one JSON value starting at `start`; errors carry positions in the whole file."""
    start += len(text[start:]) - len(text[start:].lstrip())  # raw_decode skips no whitespace
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise _json_error(path, text, error) from None
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
        keys = ", ".join(list(value)[:8]) or "none"
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
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise _json_error(path, line, error, number) from None
        records.append(tweet_from_object(item, path, f"line {number}"))
    return records


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [cell.strip().casefold() for cell in header]
    return next((lowered.index(name) for name in names if name in lowered), None)


def _cell(row: list[str], at: int | None) -> str | None:
    return row[at] if at is not None and at < len(row) else None


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise CorpusFormatError(path, f"line {line}", f"bad CSV ({error})") from None


def read_csv(text: str, path: Path) -> list[RawTweet]:
    """CSV with a header naming the text column (text, full_text, tweet or content).

    An unnamed leading index column (as pandas writes) is ignored; `id` and `created_at`
    columns are used when present.
    """
    rows = _csv_rows(text, path)
    _, header = next(rows, (1, []))
    text_at = _column(header, TEXT_COLUMNS)
    if text_at is None:
        found = ", ".join(cell.strip() for cell in header if cell.strip()) or "nothing"
        raise CorpusFormatError(
            path, None, f"no text column (looked for {', '.join(TEXT_COLUMNS)}; found {found})"
        )
    id_at, date_at = _column(header, ID_COLUMNS), _column(header, DATE_COLUMNS)
    records = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if text_at >= len(row):
            raise CorpusFormatError(
                path, f"line {line}", f"row has {len(row)} fields, the header has {len(header)}"
            )
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
