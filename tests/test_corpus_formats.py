"""Reading corpus files: each format, format detection, and one-line errors for bad files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Literal

import pytest

from corpora import formats
from corpora.errors import CorpusFormatError
from corpora.formats import Format, read_corpus_file
from corpora.records import RawTweet

ARCHIVE = """window.YTD.tweets.part0 = [ {
  "tweet" : {
    "id_str" : "1050118621198921728",
    "full_text" : "Fish &amp; chips 🐟",
    "created_at" : "Wed Oct 10 20:19:24 +0000 2018",
    "in_reply_to_status_id" : null
  }
}, {
  "tweet" : {
    "id_str" : "1050118621198921729",
    "full_text" : "@bob thanks!",
    "created_at" : "Wed Oct 10 21:00:00 +0000 2018",
    "in_reply_to_status_id" : "1050118621198921000",
    "in_reply_to_screen_name" : "bob"
  }
} ]
"""

# pandas-style export: unnamed index column, a quoted comma and a quoted newline.
CSV = (
    ',id,created_at,text\n0,11,2017-04-05 14:56:29,"Hello, world"\n'
    '1,12,,"line one\nline two"\n2,13,,plain 😀\n'
)

JSON_HOLDER = """{
  "query": "(from:ada)",
  "tweets": [
    {"id": 21, "created_at": "2020-11-27T21:09:23+00:00", "full_text": "Rock &amp; roll 🎸"},
    {"id": 22, "created_at": "2020-11-26T16:01:45+00:00", "full_text": "second"}
  ]
}"""


def read_all(path: Path, fmt: Format | Literal["auto"] = "auto") -> tuple[Format, list[RawTweet]]:
    """The file's format and every tweet in it (the reader hands them out one at a time)."""
    chosen, records = read_corpus_file(path, fmt)
    return chosen, list(records)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_archive_reads_ids_dates_and_places(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "tweets.js", ARCHIVE))
    assert fmt == "archive"
    assert [r.text for r in records] == ["Fish &amp; chips 🐟", "@bob thanks!"]
    assert [r.source_id for r in records] == ["1050118621198921728", "1050118621198921729"]
    assert records[0].created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert [r.place for r in records] == ["record 1", "record 2"]
    assert [r.is_reply for r in records] == [False, True]


def test_drop_replies_uses_reply_metadata_not_only_a_leading_mention() -> None:
    from corpora.cleaning import CleanOptions, clean
    from corpora.records import RawTweet

    records = [RawTweet("thread, part two", is_reply=True), RawTweet("a new thought")]
    kept, report = clean(records, CleanOptions(drop_replies=True))
    assert [r.text for r in kept] == ["a new thought"]
    assert report.dropped == {"reply": 1}


def test_archive_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "export", ARCHIVE))
    assert (fmt, len(records)) == ("archive", 2)


def test_csv_with_index_column_quoted_comma_and_newline(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "t.csv", CSV))
    assert fmt == "csv"
    assert [r.text for r in records] == ["Hello, world", "line one\nline two", "plain 😀"]
    assert [r.source_id for r in records] == ["11", "12", "13"]
    assert records[0].created_at == datetime(2017, 4, 5, 14, 56, 29, tzinfo=UTC)
    assert records[1].created_at is None
    # The second row spans lines 3-4, so the third starts on line 5.
    assert [r.place for r in records] == ["line 2", "line 3", "line 5"]


@pytest.mark.parametrize("column", ["Unnamed: 0", ""])
def test_csv_finds_text_column_case_insensitively(tmp_path: Path, column: str) -> None:
    path = write(tmp_path, "t.csv", f'{column},Tweet,likes\n0,"a, b",3\n1,c,4\n')
    _, records = read_all(path)
    assert [r.text for r in records] == ["a, b", "c"]
    assert records[0].source_id is None


def test_csv_detected_without_extension_by_its_header(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "export", "id,full_text\n5,hi, there\n"))
    assert fmt == "csv"
    assert records[0].text == "hi"  # unquoted comma: the CSV's own rules apply


def test_json_object_holding_list(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "k.json", JSON_HOLDER))
    assert fmt == "json"
    assert [r.text for r in records] == ["Rock &amp; roll 🎸", "second"]
    assert [r.source_id for r in records] == ["21", "22"]
    assert records[0].created_at == datetime(2020, 11, 27, 21, 9, 23, tzinfo=UTC)
    assert records[1].place == "record 2"


def test_leading_blank_lines_are_ignored(tmp_path: Path) -> None:
    _, archive = read_all(write(tmp_path, "tweets.js", "\n" + ARCHIVE))
    _, listed = read_all(write(tmp_path, "x.json", '\n  [{"text": "a"}]'))
    assert (len(archive), [r.text for r in listed]) == (2, ["a"])


def test_json_list_with_text_and_twitter_dates(tmp_path: Path) -> None:
    content = (
        '[{"id_str": "7", "text": "one", "created_at": "Wed Oct 10 20:19:24 +0000 2018",'
        ' "user": {"screen_name": "ada"}}, {"text": "two"}]'
    )
    _, records = read_all(write(tmp_path, "x.json", content))
    assert [(r.text, r.source_id, r.author) for r in records] == [
        ("one", "7", "ada"), ("two", None, None)
    ]
    assert records[0].created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "texts"),
    [
        ('{"meta": {"n": 2}, "empty": [], "ids": [1, 2], "data": [{"text": "a"}, {"text": "b"}],'
         ' "later": [{"text": "c"}]}', ["a", "b"]),
        ('{"id": "5", "text": "one tweet", "context_annotations": [{"domain": "x"}]}',
         ["one tweet"]),
        ('{"tweets": []}', []),
    ],
)
def test_json_object_gives_its_first_list_of_objects_or_is_one_tweet(
    tmp_path: Path, content: str, texts: list[str]
) -> None:
    _, records = read_all(write(tmp_path, "x.json", content))
    assert [r.text for r in records] == texts


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    content = '{"id": 1, "text": "first 🚀"}\n\n{"id": 2, "full_text": "second"}\n'
    fmt, records = read_all(write(tmp_path, "t.jsonl", content))
    assert fmt == "jsonl"
    assert [(r.text, r.source_id, r.place) for r in records] == [
        ("first 🚀", "1", "line 1"), ("second", "2", "line 3")
    ]


def test_jsonl_detected_by_content(tmp_path: Path) -> None:
    fmt, _ = read_all(write(tmp_path, "t.json", '{"text": "a"}\n{"text": "b"}\n'))
    assert fmt == "jsonl"


def test_text_skips_header_and_blank_lines(tmp_path: Path) -> None:
    content = "text\nfirst post, with a comma\n\nsecond &amp; last 😀\n"
    fmt, records = read_all(write(tmp_path, "t.txt", content))
    assert fmt == "text"
    assert [(r.text, r.place) for r in records] == [
        ("first post, with a comma", "line 2"), ("second &amp; last 😀", "line 4")
    ]


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "t.csv", "\ufefftext\nhello\n".encode()))
    assert (fmt, [r.text for r in records]) == ("csv", ["hello"])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_csv_saved_as_utf16_or_utf32_with_a_byte_order_mark_is_read(
    tmp_path: Path, encoding: str
) -> None:
    content = "id,text\n1,\"Größe, 😀\"\n2,plain\n"
    data = content.encode(encoding)
    if encoding == "utf-16-be":  # Python writes the mark only for the native byte order
        data = b"\xfe\xff" + data
    fmt, records = read_all(write(tmp_path, "export.csv", data))
    assert (fmt, [r.text for r in records]) == ("csv", ["Größe, 😀", "plain"])
    assert [r.place for r in records] == ["line 2", "line 3"]


def test_utf16_that_breaks_off_is_refused_naming_the_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "text\nhello\n".encode("utf-16") + b"\x00")
    with pytest.raises(CorpusFormatError) as raised:
        read_all(path)
    assert str(raised.value) == f"{path}: not UTF-16 text (bad bytes at byte 24)"


def test_format_given_overrides_detection(tmp_path: Path) -> None:
    fmt, records = read_all(write(tmp_path, "t.csv", "text\na,b\n"), "text")
    assert (fmt, [r.text for r in records]) == ("text", ["a,b"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.json", '[\n  {"text": "a"},\n  {"text": "b"',
         "x.json, line 3 column 15: truncated JSON"),
        ("x.json", '[{"text": "a"},\n {"id": 3, "user": "ada"}]',
         "x.json, record 2: no text or full_text field (found id, user)"),
        ("x.json", '[{"text": null}]', "x.json, record 1: text is null, not text"),
        ("x.json", '{"query": "q", "count": 3}',
         "x.json: no list of tweets found (keys: query, count)"),
        ("x.jsonl", '{"text": "a"}\n{"text": \n', "x.jsonl, line 2 column 10: truncated JSON"),
        ("x.jsonl", '{"text": "a"}\n{"text": nope}\n',
         "x.jsonl, line 2 column 10: bad JSON (Expecting value)"),
        ("x.csv", "id,foo\n1,2\n",
         "x.csv: no text column (looked for text, full_text, tweet, content; found id, foo)"),
        ("x.csv", 'id,text\n1,ok\n2,"bad"quote\n',
         "x.csv, line 3: bad CSV (',' expected after '\"')"),
        ("x.bin", b"text\nhello\x00\x01\x02", "x.bin: not a text file (binary data at byte 10)"),
        ("x.txt", b"", "x.txt: empty file"),
        ("x.txt", b" \n\n", "x.txt: empty file"),
        ("x.txt", b"text\ncaf\xe9\n",
         "x.txt, line 2: not UTF-8 text (byte 0xe9 at byte 8); save the file as UTF-8"),
        ("tweets.js", "window.YTD.like.part0 = []",
         "tweets.js, line 1: not an X archive (expected 'window.YTD.tweets.part0 = ')"),
        ("tweets.js", 'window.YTD.tweets.part0 = [ {"tweet": {"full_text": "a"}',
         "tweets.js, line 1 column 57: truncated JSON"),
        ("missing.txt", None, "missing.txt: no such file"),
        ("x.json", "[" * 5000, "x.json, line 1 column 101: JSON nested too deeply (more than 100 levels)"),
        ("x.jsonl", '{"text": "a"}\n' + '{"a": ' * 3000,
         "x.jsonl, line 2 column 601: JSON nested too deeply (more than 100 levels)"),
        ("tweets.js", "window.YTD.tweets.part0 = " + "[" * 3000,
         "tweets.js, line 1 column 127: JSON nested too deeply (more than 100 levels)"),
        ("x.json", '[{"id": ' + "7" * 4400 + ', "text": "a"}]',
         "x.json, line 1 column 9: number too long (over 4,300 digits)"),
        ("x.txt", "text\n" + "b" * 50_001,
         "x.txt, line 2: tweet too long (50,001 characters; the limit is 50,000)"),
        ("x.json", '[{"text": "a"}, {"text": "' + "c" * 60_000 + '"}]',
         "x.json, record 2: tweet too long (60,000 characters; the limit is 50,000)"),
        ("x.csv", 'id,text\n1,"' + "a" * 50_001 + '"\n',
         "x.csv, line 2: field longer than 50,000 characters, the most a tweet may have"),
        ("export", '"' + "q" * 140_000 + '"\n',
         "export, line 1: tweet too long (140,002 characters; the limit is 50,000)"),
        ("x.json", '[{"id": 1, "a\\nb\\u001b[2J": 2}]',
         "x.json, record 1: no text or full_text field (found id, a b [2J)"),
        ("x.json", '[{"text": [[["deep"]]]}]', "x.json, record 1: text is list, not text"),
        ("x.json", '[{"text": "a"},\n {"text": "' + "b" * 5_000_000 + '"}]',
         "x.json, line 2 column 2: JSON record longer than 4,000,000 characters (no tweet is)"),
        ("x.csv", "id,text\n1," + "c," * 2_500_000 + "\n",
         "x.csv, line 2: line longer than 4,000,000 characters (no tweet record is)"),
        ("tweets.js", 'window.YTD.tweets.part0 = [{"tweet": {"full_text": "a"}}] x',
         "tweets.js, line 1 column 59: unexpected text after the JSON value"),
    ],
)
def test_bad_file_gives_one_line_error_with_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str | bytes | None,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        write(tmp_path, name, content)
    with pytest.raises(CorpusFormatError) as raised:
        read_all(Path(name))
    assert str(raised.value) == message


def test_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.truncate(200_000_001)  # sparse: nothing is written, but the size says 200 MB + 1
    with pytest.raises(CorpusFormatError) as raised:
        read_all(path)
    assert str(raised.value) == f"{path}: file too large (over 200 MB); split it up"


def test_a_file_without_a_size_is_read_no_further_than_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CorpusFormatError, match="^/dev/zero: file too large"):
        read_all(Path("/dev/zero"))  # endless, and its size reads 0


def test_json_text_keeps_only_what_a_database_can_store(tmp_path: Path) -> None:
    content = (r'[{"text": "nul \u0000, lone \ud83d surrogate, pair \ud83d\ude00",'
               r' "screen_name": "\udfff", "id": "\u0661\u0662"}]')
    _, [record] = read_all(write(tmp_path, "x.json", content))
    assert record.text == "nul , lone  surrogate, pair \U0001f600"
    assert (record.author, record.source_id) == (None, None)  # Arabic-Indic digits are no X id


def test_ids_too_long_for_x_are_not_kept(tmp_path: Path) -> None:
    content = '[{"id": 12345678901234567890, "text": "a"}, {"id": 123456789012345678901, "text": "b"}]'
    _, records = read_all(write(tmp_path, "x.json", content))
    assert [r.source_id for r in records] == ["12345678901234567890", None]


def test_reading_csv_leaves_the_csv_field_limit_as_it_was(tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    with pytest.raises(CorpusFormatError):
        read_all(write(tmp_path, "x.csv", "id,text\n1,2\n3\n"))
    read_all(write(tmp_path, "y.csv", "id,text\n1,2\n"))
    assert csv.field_size_limit() == before


# -- streaming: one record at a time --------------------------------------------------------------

ENDLESS = {  # the start of a file, then a chunk repeated for ever
    "archive": ("window.YTD.tweets.part0 = [", '{"tweet": {"full_text": "hi"}},\n'),
    "json": ('{"tweets": [', '{"text": "hi"},'),
    "jsonl": ("", '{"text": "hi"}\n'),
    "csv": ("id,text\n", '1,"hi"\n'),
    "text": ("", "hi\n"),
}


@pytest.mark.parametrize("fmt", sorted(ENDLESS))
def test_tweets_arrive_before_the_file_ends(fmt: Format) -> None:
    """No reader waits for the whole file: an endless one gives its first tweets at once."""
    start, record = ENDLESS[fmt]
    pulled = 0

    def chunks() -> Iterator[str]:
        nonlocal pulled
        yield start
        while True:
            pulled += 1
            yield record * 1000

    tweets = formats.READERS[fmt](chunks(), Path(f"endless.{fmt}"))
    assert [tweet.text for tweet in islice(tweets, 1500)] == ["hi"] * 1500
    assert pulled <= 3


def test_a_large_file_is_read_a_chunk_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "tweets.js"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("window.YTD.tweets.part0 = [")
        handle.write(",\n".join(f'{{"tweet": {{"full_text": "tweet {n}"}}}}' for n in range(100_000)))
        handle.write("]")
    assert path.stat().st_size > 3 * formats.CHUNK_BYTES
    chunks = formats.text_chunks(path)
    assert all(len(chunk) <= formats.CHUNK_BYTES for chunk in chunks)
    _, records = read_corpus_file(path)
    assert sum(1 for _ in records) == 100_000
