"""The application context every command and job works in: settings, database and artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings, get_settings
from bot.errors import NowbotError
from storage.artifact_store import open_store
from storage.db import make_engine, session_factory, upgrade


@dataclass(frozen=True)
class App:
    """Open resources of one nowbot process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def artifacts_dir(self) -> Path:
        return self.settings.resolved_artifacts_dir


def open_app(settings: Settings | None = None, *, migrate: bool = True) -> App:
    """Connect to the configured database, upgrading its schema first unless `migrate` is False."""
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as error:
            engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise NowbotError(f"cannot open the database {where}: {reason}") from None
    settings.resolved_artifacts_dir.mkdir(parents=True, exist_ok=True)
    open_store(settings.artifact_store, settings.resolved_artifacts_dir, settings.s3_endpoint_url)
    return App(settings=settings, engine=engine, sessions=session_factory(engine))
