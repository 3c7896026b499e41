"""No secret is ever printed or logged: CLI output, stderr logs and captured log records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import tweepy
from fake_x import FakeX, attach
from typer.testing import CliRunner, Result

from bot.app import App
from bot.cli import app as cli
from bot.cli import collect as collect_cli
from bot.config import get_settings
from bot.logs import setup_logging

SECRETS = {
    "NOWBOT_X_BEARER_TOKEN": "bearer-SECRET-9f3kq2",
    "NOWBOT_X_CONSUMER_KEY": "ckey-SECRET-77ab1",
    "NOWBOT_X_CONSUMER_SECRET": "csecret-SECRET-0x5d",
    "NOWBOT_X_ACCESS_TOKEN": "atoken-SECRET-4e2c",
    "NOWBOT_X_ACCESS_TOKEN_SECRET": "asecret-SECRET-81zz",
    "NOWBOT_DISCORD_TOKEN": "discord-SECRET-m3n4",
}


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token="the-right-token", consumer_key=SECRETS["NOWBOT_X_CONSUMER_KEY"],
               consumer_secret=SECRETS["NOWBOT_X_CONSUMER_SECRET"],
               access_token=SECRETS["NOWBOT_X_ACCESS_TOKEN"],
               access_token_secret=SECRETS["NOWBOT_X_ACCESS_TOKEN_SECRET"]) as server:
        yield server


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, sqlite_app: App) -> Iterator[None]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NOWBOT_DATA_DIR", str(sqlite_app.settings.data_dir))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    root.handlers[:], root.level = saved


def nowbot(*args: str) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(cli, list(args))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for value in SECRETS.values():
            assert value not in text


@pytest.mark.usefixtures("secret_env")
def test_collect_with_bad_token_and_debug_logs_leaks_nothing(
    fake: FakeX, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(collect_cli, "client_factory",
                        lambda settings: attach(collect_cli.x_client(settings), fake))
    result = nowbot("-v", "corpus", "collect", "ada", "--user", "ada", "--yes")
    assert result.exit_code == 1
    assert "X rejected the credentials (401 Unauthorized)" in result.stderr
    # The debug logs did run (tweepy logs its request headers) and came out masked.
    assert "Authorization': 'Bearer ***'" in result.stderr
    assert any("Bearer ***" in r.getMessage() for r in caplog.records if r.name == "tweepy.client")
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert_no_secret(result.stdout, result.stderr, caplog.text)


@pytest.mark.usefixtures("secret_env")
def test_config_failure_leaks_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOWBOT_X_READ_BUDGET", "-3")
    (tmp_path / ".env").write_text("NOWBOT_X_BEARER_TOKN=dotenv-SECRET-typo1\n")
    result = nowbot("-v", "corpus", "collect", "ada", "--user", "ada", "--yes")
    assert result.exit_code == 1
    assert "NOWBOT_X_READ_BUDGET" in result.stderr and "NOWBOT_X_BEARER_TOKN" in result.stderr
    assert "dotenv-SECRET-typo1" not in result.output
    logging.getLogger("nowbot.test").debug("token was %s", SECRETS["NOWBOT_X_BEARER_TOKEN"])
    assert "token was ***" in caplog.text
    assert_no_secret(result.stdout, result.stderr, caplog.text)


@pytest.mark.usefixtures("secret_env")
def test_oauth_user_requests_debug_logs_leak_nothing(
    fake: FakeX, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(logging.DEBUG)
    client = attach(tweepy.Client(
        consumer_key=SECRETS["NOWBOT_X_CONSUMER_KEY"], consumer_secret=SECRETS["NOWBOT_X_CONSUMER_SECRET"],
        access_token=SECRETS["NOWBOT_X_ACCESS_TOKEN"],
        access_token_secret=SECRETS["NOWBOT_X_ACCESS_TOKEN_SECRET"],
    ), fake)
    assert client.create_tweet(text="hello #siggraphNOW").data["id"]
    assert any(r.name.startswith("oauthlib") for r in caplog.records)
    try:
        raise RuntimeError(f"boom with {SECRETS['NOWBOT_DISCORD_TOKEN']}")
    except RuntimeError:
        logging.getLogger("nowbot.test").exception("failed")
    assert "boom with ***" in caplog.text
    captured = capsys.readouterr()
    assert_no_secret(captured.out, captured.err, caplog.text)


@pytest.mark.usefixtures("secret_env")
def test_database_password_is_masked_but_host_is_not(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOWBOT_DATABASE_URL", "postgresql+psycopg://bot:pg-SECRET-w0rd@db.example:5432/nowbot")
    setup_logging()
    logging.getLogger("nowbot.test").warning("connecting to %s",
                                             "postgresql+psycopg://bot:pg-SECRET-w0rd@db.example:5432/nowbot")
    assert "bot:***@db.example" in caplog.text and "pg-SECRET-w0rd" not in caplog.text
