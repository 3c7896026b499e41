"""`nowbot train text` and `nowbot generate text` end to end on a tiny corpus."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from conftest import Nowbot, cli_runner
from models.registry import Registry
from text_corpus import WORDS, store


@pytest.fixture
def nowbot(sqlite_app: App) -> Nowbot:
    """Run `nowbot ARGS...` in-process against the test's database."""
    return cli_runner(sqlite_app)


def test_train_then_generate_tweets(sqlite_app: App, nowbot: Nowbot) -> None:
    store(sqlite_app, {"ada": 30, "bob": 30})
    missing = nowbot("generate", "text", "--persona", "ada")
    assert missing.exit_code == 1 and "no serving text model knows ada" in missing.output
    trained = nowbot("train", "text", "--together", "--epochs", "1")  # blends need one model
    assert trained.exit_code == 0, trained.output
    assert "text all: training started (1 pass)" in trained.output
    assert "v1: held-out" in trained.output
    assert "text all v1 promoted: " in trained.output and "bits/char, the first version" in trained.output

    made = nowbot(
        "generate", "text", "--persona", "ada", "--prompt", "Rocket✈", "-n", "3",
        "--blend", "bob", "--mix", "0.3", "--top-k", "20", "--seed", "1",
    )
    assert made.exit_code == 0, made.output
    lines = made.output.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("Rocket✈") for line in lines)
    assert all(len(line) <= 280 for line in lines)


def test_generate_names_an_unknown_persona(sqlite_app: App, nowbot: Nowbot) -> None:
    store(sqlite_app, {"ada": 20})
    assert nowbot("train", "text", "--persona", "ada", "--epochs", "1").exit_code == 0
    result = nowbot("generate", "text", "--persona", "zed")
    assert result.exit_code == 1 and "no persona named zed; `nowbot corpus list` shows them" in result.output
    both = nowbot("train", "text", "--minutes", "1", "--epochs", "1")
    assert both.exit_code == 2 and "not both" in both.output
    wild = nowbot("generate", "text", "--persona", "ada", "--temperature", "inf")
    assert wild.exit_code == 2 and "--temperature" in wild.output  # refused before sampling


def test_generate_honours_the_blocklist_setting(
    sqlite_app: App, nowbot: Nowbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(sqlite_app, {"ada": 40})
    # From scratch: one pass from the English prior writes English more than ada's words.
    assert nowbot("train", "text", "--epochs", "1", "--from-scratch").exit_code == 0
    free = nowbot("generate", "text", "--persona", "ada", "-n", "5", "--seed", "3")
    assert free.exit_code == 0
    # The persona's word the model wrote most: blocked, it must not come back.
    word = max(WORDS["ada"][:-1], key=free.output.lower().count)
    assert word in free.output.lower()
    monkeypatch.setenv("NOWBOT_TEXT_BLOCKLIST_WORDS", word)
    blocked = nowbot("generate", "text", "--persona", "ada", "-n", "5", "--seed", "3")
    assert word not in re.findall(r"\w+", blocked.stdout.lower())
    assert blocked.exit_code == 0 or "blocked word" in blocked.output


def test_train_makes_one_model_per_persona_by_default(sqlite_app: App, nowbot: Nowbot) -> None:
    store(sqlite_app, {"ada": 30, "bob": 30})
    trained = nowbot("train", "text", "--epochs", "1")
    assert trained.exit_code == 0, trained.output
    assert "text ada: training started (1 pass)" in trained.output
    assert "text bob: training started (1 pass)" in trained.output
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    assert {v.target for v in registry.serving_versions("text")} == {"ada", "bob"}
    blend = nowbot("generate", "text", "--persona", "ada", "--blend", "bob")
    assert blend.exit_code == 1 and "no serving text model knows ada and bob" in blend.output
