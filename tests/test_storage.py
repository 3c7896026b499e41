"""Schema, constraints and atomic artifacts, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.app import App, open_app
from bot.config import Settings
from storage.artifacts import atomic_write_bytes, staged_dir
from storage.corpus import Persona, Tweet
from storage.db import current_revision, make_engine, upgrade

EXPECTED_TABLES = {
    "personas", "tweets", "image_sets", "images", "model_versions",
    "training_runs", "generated_items", "posts", "collection_cursors",
}


def _head(app: App) -> str:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    return ScriptDirectory.from_config(alembic_config(app.engine)).get_current_head()


def test_open_app_migrates_to_head(app: App) -> None:
    assert EXPECTED_TABLES <= set(inspect(app.engine).get_table_names())
    assert current_revision(app.engine) == _head(app)


def test_upgrade_twice_changes_nothing(app: App) -> None:
    upgrade(app.engine)
    assert current_revision(app.engine) == _head(app)


def test_tweet_unique_per_source_id(app: App) -> None:
    with app.sessions.begin() as session:
        persona = Persona(name="ada")
        session.add(persona)
        session.flush()
        session.add(Tweet(persona=persona, source="x", source_id="1", text="a", text_hash="h1"))
    with pytest.raises(IntegrityError):
        with app.sessions.begin() as session:
            persona = session.scalars(select(Persona)).one()
            session.add(Tweet(persona=persona, source="x", source_id="1", text="b", text_hash="h2"))


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_data_survives_reopen(settings: Settings) -> None:
    first = open_app(settings)
    with first.sessions.begin() as session:
        session.add(Persona(name="ada"))
    first.engine.dispose()
    second = open_app(settings)
    with second.sessions() as session:
        assert session.scalars(select(Persona.name)).all() == ["ada"]
    second.engine.dispose()


def test_staged_dir_appears_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "v0001"
    with pytest.raises(RuntimeError):
        with staged_dir(final) as staging:
            (staging / "weights.bin").write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []
    with staged_dir(final) as staging:
        (staging / "weights.bin").write_bytes(b"whole")
    assert (final / "weights.bin").read_bytes() == b"whole"


def test_staged_dir_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "v0001").mkdir()
    with pytest.raises(FileExistsError):
        with staged_dir(tmp_path / "v0001"):
            pass


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "serving.json"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["serving.json"]


def test_migrations_match_the_models(app: App) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.migrations_filter import include_object
    from storage.schema import Base

    with app.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, Base.metadata) == []
