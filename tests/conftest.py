"""Shared fixtures: an isolated nowbot app on SQLite always, and on PostgreSQL when
`TEST_DATABASE_URL` is set (each test gets its own schema there, dropped afterwards)."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from bot.app import App, open_app
from bot.config import Settings, get_settings

Nowbot = Callable[..., Result]

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's NOWBOT_* variables or `.env`."""
    for name in list(os.environ):
        if name.startswith("NOWBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Logging as it was before the test: a test that sets it up (`setup_logging`) leaves no
    handler on its captured, then closed, stderr for the next tests to fail on."""
    root = logging.getLogger()
    handlers, level, factory = root.handlers[:], root.level, logging.getLogRecordFactory()
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level
    logging.setLogRecordFactory(factory)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'nowbot.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """A migrated nowbot app on a fresh database."""
    opened = open_app(settings)
    yield opened
    opened.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[App]:
    """A migrated app on SQLite only, for tests that are not about storage."""
    opened = open_app(Settings(data_dir=tmp_path / "var"))
    yield opened
    opened.engine.dispose()


def cli_runner(app: App) -> Nowbot:
    """Run `nowbot ARGS...` in-process against `app`'s database, as a user would from a shell.

    Settings are re-read for each call, and the logging set-up a command does is undone after it.
    """
    from bot import cli

    env = {
        "NOWBOT_DATA_DIR": str(app.settings.data_dir),
        "NOWBOT_DATABASE_URL": app.settings.resolved_database_url,
    }
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli.app, list(args), env=env)
        finally:
            get_settings.cache_clear()
            root.handlers[:], root.level = handlers, level

    return invoke


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts (append them); any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
