"""`nowbot corpus import` and `corpus list`, run as a user would, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from conftest import Nowbot, cli_runner
from corpora.names import NAME_RULE
from corpora.records import loose_hash, text_hash
from storage.corpus import Persona, Tweet


ARCHIVE = """window.YTD.tweets.part0 = [ {
  "tweet" : {"id_str" : "101", "full_text" : "Fish &amp; chips 🐟 https://t.co/abc",
             "created_at" : "Wed Oct 10 20:19:24 +0000 2018"}
}, {
  "tweet" : {"id_str" : "102", "full_text" : "@bob thanks!", "in_reply_to_screen_name" : "bob",
             "created_at" : "Wed Oct 10 21:00:00 +0000 2018"}
}, {
  "tweet" : {"id_str" : "103", "full_text" : "RT @carol: look at this",
             "created_at" : "Wed Oct 10 22:00:00 +0000 2018"}
} ]
"""
CSV = (
    ',id,created_at,text\n0,201,2017-04-05 14:56:29,"Hello, world &amp; all"\n'
    '1,202,,"two\nlines 😀"\n'
)
JSON = '{"query": "q", "tweets": [{"id": 301, "full_text": "Rock 🎸"}, {"id": 302, "text": "Roll"}]}'
JSONL = '{"id": 401, "text": "first"}\n{"id": 402, "text": "second @dan"}\n'
TEXT = "text\nSunny &amp; warm ☀️\nSunny &amp; warm ☀️\nRT @x: copied\n"

FILES = {"tweets.js": ARCHIVE, "t.csv": CSV, "t.json": JSON, "t.jsonl": JSONL, "t.txt": TEXT}


@pytest.fixture
def nowbot(app: App) -> Nowbot:
    """Run `nowbot ARGS...` in-process against the test's database."""
    return cli_runner(app)


def write(name: str, content: str | bytes) -> str:
    path = Path(name)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return name


def texts(app: App, persona: str) -> list[str]:
    with app.sessions() as session:
        query = select(Tweet.text).join(Persona).where(Persona.name == persona)
        return sorted(session.scalars(query))


def row_counts(app: App) -> tuple[int, int]:
    with app.sessions() as session:
        return (
            session.scalar(select(func.count(Persona.id))) or 0,
            session.scalar(select(func.count(Tweet.id))) or 0,
        )


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("tweets.js", ["Fish & chips 🐟", "thanks!"]),
        ("t.csv", ["Hello, world & all", "two lines 😀"]),
        ("t.json", ["Rock 🎸", "Roll"]),
        ("t.jsonl", ["first", "second @dan"]),
        ("t.txt", ["Sunny & warm ☀️"]),
    ],
)
def test_import_each_format_stores_cleaned_tweets(
    nowbot: Nowbot, app: App, name: str, stored: list[str]
) -> None:
    result = nowbot("corpus", "import", "ada", write(name, FILES[name]))
    assert result.exit_code == 0, result.output
    assert texts(app, "ada") == stored
    assert f"ada: {len(stored)} new, 0 updated, 0 already stored" in result.stdout


def test_import_reports_read_kept_and_dropped_by_reason(nowbot: Nowbot, app: App) -> None:
    result = nowbot("corpus", "import", "ada", write("t.txt", TEXT))
    expected = "ada: 1 new, 0 updated, 0 already stored, 2 dropped (1 duplicate, 1 retweet), 3 read from"
    assert expected in result.stdout


def test_import_keeps_x_ids_and_dates(nowbot: Nowbot, app: App) -> None:
    nowbot("corpus", "import", "ada", write("tweets.js", ARCHIVE))
    with app.sessions() as session:
        tweet = session.scalars(select(Tweet).where(Tweet.source_id == "101")).one()
    assert tweet.source == "x"
    assert tweet.tweeted_at is not None
    when = tweet.tweeted_at if tweet.tweeted_at.tzinfo else tweet.tweeted_at.replace(tzinfo=UTC)
    assert when == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)


def test_import_twice_adds_nothing(nowbot: Nowbot, app: App) -> None:
    files = [write(name, content) for name, content in FILES.items()]
    first = nowbot("corpus", "import", "ada", *files)
    counts = row_counts(app)
    second = nowbot("corpus", "import", "ada", *files)
    assert first.exit_code == second.exit_code == 0
    assert row_counts(app) == counts == (1, 9)
    assert "ada: 9 new, 0 updated, 0 already stored" in first.stdout
    assert "ada: 0 new, 0 updated, 9 already stored" in second.stdout


def test_same_tweets_in_another_format_are_already_stored(nowbot: Nowbot, app: App) -> None:
    nowbot("corpus", "import", "ada", write("t.jsonl", JSONL))
    again = '[{"id_str": "401", "full_text": "first (edited)"}, {"text": "second @dan"}]'
    result = nowbot("corpus", "import", "ada", write("t.json", again))
    assert "ada: 0 new, 0 updated, 2 already stored" in result.stdout
    assert texts(app, "ada") == ["first", "second @dan"]


def test_personas_keep_separate_corpora(nowbot: Nowbot, app: App) -> None:
    nowbot("corpus", "import", "ada", write("t.jsonl", JSONL))
    result = nowbot("corpus", "import", "bea", "t.jsonl")
    assert "bea: 2 new" in result.stdout
    assert row_counts(app) == (2, 4)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.json", '[\n  {"text": "a"},\n  {"text"', "x.json, line 3 column 10: truncated JSON"),
        ("x.csv", "id,foo\n1,2\n",
         "x.csv: no text column (looked for text, full_text, tweet, content; found id, foo)"),
        ("x.bin", b"\x89PNG\r\n\x1a\n\x00\x00", "x.bin: not a text file (binary data at byte 6)"),
        ("x.txt", b"", "x.txt: empty file"),
        ("tweets.js", 'window.YTD.like.part0 = [{"like": {}}]',
         "tweets.js, line 1: not an X archive (expected 'window.YTD.tweets.part0 = ')"),
        ("x.txt", "text\nok\n".encode() + "caf\u00e9".encode("latin-1"),
         "x.txt, line 3: not UTF-8 text (byte 0xe9 at byte 11); save the file as UTF-8"),
        ("x.json", "[" * 5000, "x.json, line 1 column 101: JSON nested too deeply (more than 100 levels)"),
        ("x.txt", "text\nfine\n" + "b" * 50_001,
         "x.txt, line 3: tweet too long (50,001 characters; the limit is 50,000)"),
    ],
)
def test_malformed_file_fails_in_one_line_and_changes_nothing(
    nowbot: Nowbot, app: App, name: str, content: str | bytes, message: str
) -> None:
    nowbot("corpus", "import", "ada", write("t.jsonl", JSONL))
    before = row_counts(app)
    result = nowbot("corpus", "import", "bea", "t.jsonl", write(name, content))
    assert result.exit_code == 1
    assert result.stderr == f"error: {message}\n"
    assert row_counts(app) == before


def test_one_bad_file_imports_none_of_the_others(nowbot: Nowbot, app: App) -> None:
    good, bad = write("t.txt", TEXT), write("x.json", '[{"text": "a"}')
    result = nowbot("corpus", "import", "ada", good, bad)
    assert result.exit_code == 1
    assert row_counts(app) == (0, 0)


def test_bad_persona_name_is_refused(nowbot: Nowbot, app: App) -> None:
    result = nowbot("corpus", "import", "two words", write("t.txt", TEXT))
    assert result.exit_code == 1
    assert "bad persona name 'two words'" in result.stderr
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize("name", ["..", ".", "../../elsewhere", "a/b", ".hidden", "", "x" * 65, "zoë",
                                  "[bold]ada[/bold]", "[red]"])
def test_persona_names_that_are_no_safe_slug_are_refused_in_one_line(
    nowbot: Nowbot, app: App, name: str
) -> None:
    result = nowbot("corpus", "import", name, write("t.txt", TEXT))
    assert (result.exit_code, result.stderr) == (1, f"error: bad persona name {name!r}: use {NAME_RULE}\n")
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize("name", ["a.b-c_1", "_x", "9lives", "x" * 64])
def test_safe_slugs_name_personas(nowbot: Nowbot, app: App, name: str) -> None:
    assert nowbot("corpus", "import", name, write("t.txt", TEXT)).exit_code == 0
    assert texts(app, name) == ["Sunny & warm ☀️"]


def test_what_a_database_cannot_store_is_left_out(nowbot: Nowbot, app: App) -> None:
    content = ('[{"id": "' + "1" * 70 + '", "screen_name": "' + "a" * 120 + '",'
               ' "text": "nul \\u0000 and lone \\ud800 surrogate"}]')
    result = nowbot("corpus", "import", "ada", write("x.json", content))
    assert result.exit_code == 0, result.output
    assert texts(app, "ada") == ["nul and lone surrogate"]
    with app.sessions() as session:
        tweet = session.scalars(select(Tweet)).one()
    assert (tweet.source, tweet.author) == ("text", None)  # no 70-digit X id, no 120-letter handle


def test_file_names_are_shown_as_they_are_not_as_markup(nowbot: Nowbot, app: App) -> None:
    result = nowbot("corpus", "import", "ada", write("[red]t.txt", TEXT))
    assert result.exit_code == 0, result.output
    assert "[red]t.txt" in result.stdout


@pytest.mark.parametrize(
    ("flag", "stored"),
    [
        (None, ["Fish & chips 🐟", "thanks!"]),
        ("--keep-retweets", ["Fish & chips 🐟", "RT @carol: look at this", "thanks!"]),
        ("--drop-replies", ["Fish & chips 🐟"]),
        ("--keep-links", ["Fish & chips 🐟 https://t.co/abc", "thanks!"]),
        ("--strip-mentions", ["Fish & chips 🐟", "thanks!"]),
        ("--keep-reply-address", ["@bob thanks!", "Fish & chips 🐟"]),
    ],
)
def test_cleaning_flags(nowbot: Nowbot, app: App, flag: str | None, stored: list[str]) -> None:
    args = ["corpus", "import", "ada", write("tweets.js", ARCHIVE)] + ([flag] if flag else [])
    assert nowbot(*args).exit_code == 0
    assert texts(app, "ada") == stored


def test_format_option_overrides_detection(nowbot: Nowbot, app: App) -> None:
    result = nowbot("corpus", "import", "ada", "--format", "text", write("t.csv", "text\na,b\n"))
    assert result.exit_code == 0
    assert texts(app, "ada") == ["a,b"]


def test_list_shows_tweet_and_character_counts(nowbot: Nowbot, app: App) -> None:
    nowbot("corpus", "import", "ada", write("t.jsonl", JSONL))  # "first" + "second @dan": 16 chars
    nowbot("corpus", "import", "bea", write("t.json", JSON))  # "Rock 🎸" + "Roll": 10 chars
    result = nowbot("corpus", "list")
    assert result.exit_code == 0
    rows = [line.split("│")[1:4] for line in result.stdout.splitlines() if "│" in line]
    cells = [[cell.strip() for cell in row] for row in rows]
    assert cells == [["ada", "2", "16"], ["bea", "2", "10"]]


def test_list_without_personas_says_how_to_add_one(nowbot: Nowbot) -> None:
    result = nowbot("corpus", "list")
    assert result.exit_code == 0
    assert "no personas yet" in result.stdout


def test_installed_console_script_imports_and_lists(app: App) -> None:
    script = Path(sys.executable).parent / "nowbot"
    env = {
        **os.environ,
        "NOWBOT_DATA_DIR": str(app.settings.data_dir),
        "NOWBOT_DATABASE_URL": app.settings.resolved_database_url,
    }
    write("t.csv", CSV)
    imported = subprocess.run(
        [script, "corpus", "import", "ada", "t.csv"], env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert "ada: 2 new" in imported.stdout
    failed = subprocess.run(
        [script, "corpus", "import", "ada", write("x.txt", "")], env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert (failed.returncode, failed.stderr) == (1, "error: x.txt: empty file\n")
    assert texts(app, "ada") == ["Hello, world & all", "two lines 😀"]


def test_reimport_with_new_cleaning_updates_instead_of_duplicating(nowbot: Nowbot, app: App) -> None:
    write("t.txt", "text\nNew video - https://t.co/a\nIt\\'s here: https://t.co/b\n")
    write("t.csv", ',id,created_at,text\n0,501,,"@bob that\\\'s it"\n')
    with app.sessions.begin() as session:  # as stored by the rules before this change
        persona = Persona(name="ada")
        session.add(persona)
        session.flush()
        for source, source_id, text in [("text", "h1", "New video -"), ("text", "h2", "It\\'s here:"),
                                        ("x", "501", "@bob that\\'s it")]:
            session.add(Tweet(persona_id=persona.id, source=source, source_id=source_id, text=text,
                              text_hash=text_hash(text), loose_hash=loose_hash(text)))
    result = nowbot("corpus", "import", "ada", "t.txt", "t.csv")
    assert result.exit_code == 0, result.output
    assert "ada: 0 new, 3 updated, 0 already stored" in result.stdout
    assert texts(app, "ada") == ["It's here", "New video", "that's it"]
    again = nowbot("corpus", "import", "ada", "t.txt", "t.csv")
    assert "ada: 0 new, 0 updated, 3 already stored" in again.stdout
    assert row_counts(app) == (1, 3)
