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


def test_migration_0007_moves_each_post_to_its_deliveries_and_back(database_url: str) -> None:
    """Posts of the old shape (one row per platform) become one post with one delivery per
    platform, none lost; the downgrade splits them again."""
    from datetime import UTC, datetime

    from alembic import command

    from storage.db import alembic_config, upgrade as upgrade_to

    engine = make_engine(database_url)
    upgrade_to(engine, "0006")
    when = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    columns = ("platform, status, text, generated_item_id, attempts, cost_usd, external_id, "
               "updated_at, created_at, reviewed_by")  # ids 1 to 4, in this order
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO generated_items (id, kind, details, created_at) "
                                "VALUES (1, 'text', '{}', :t), (2, 'text', '{}', :t)"), {"t": when})
        for row in [("x", "published", "Talks at nine #siggraphNOW", 1, 1, 0.015, "42", "ana"),
                    ("discord", "failed", "Talks at nine #siggraphNOW", 1, 5, 0.0, None, "ana"),
                    ("x", "draft", "Demos at ten", 2, 0, 0.0, None, None),
                    ("local", "approved", "Posters at noon", None, 0, 0.0, None, None)]:
            connection.execute(text(f"INSERT INTO posts ({columns}) VALUES (:platform, :status, "
                                    ":text, :item, :attempts, :cost, :external, :t, :t, :reviewer)"),
                               dict(zip(("platform", "status", "text", "item", "attempts", "cost",
                                         "external", "reviewer"), row), t=when))
    upgrade_to(engine)
    with engine.connect() as connection:
        posts = connection.execute(text("SELECT id, status, reviewed_by FROM posts ORDER BY id")).all()
        deliveries = connection.execute(text(
            "SELECT post_id, platform, status, attempts, cost_usd, external_id FROM deliveries "
            "ORDER BY post_id, platform")).all()
    assert [tuple(p) for p in posts] == [(1, "failed", "ana"), (3, "draft", None), (4, "approved", None)]
    assert [tuple(d) for d in deliveries] == [
        (1, "discord", "failed", 5, 0.0, None), (1, "x", "published", 1, 0.015, "42"),
        (3, "x", "draft", 0, 0.0, None), (4, "local", "approved", 0, 0.0, None)]
    command.downgrade(alembic_config(engine), "0006")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT platform, status, text, attempts, external_id FROM posts "
                                       "ORDER BY platform, text")).all()
    assert sorted(tuple(r) for r in rows) == sorted([
        ("x", "published", "Talks at nine #siggraphNOW", 1, "42"),
        ("discord", "failed", "Talks at nine #siggraphNOW", 5, None),
        ("x", "draft", "Demos at ten", 0, None), ("local", "approved", "Posters at noon", 0, None)])
    engine.dispose()


@pytest.mark.postgresql
def test_processes_starting_together_on_an_empty_database_migrate_one_at_a_time(
        pg_schema_url: str) -> None:
    import subprocess
    import sys

    script = ("import sys; from storage.db import make_engine, upgrade; "
              "upgrade(make_engine(sys.argv[1]))")
    started = [subprocess.Popen([sys.executable, "-c", script, pg_schema_url],
                                stderr=subprocess.PIPE) for _ in range(3)]
    failures = [process.stderr.read().decode()[-300:] for process in started
                if process.wait(timeout=120) != 0]  # type: ignore[union-attr]
    assert failures == []  # none fails on a table another has just created
    assert current_revision(make_engine(pg_schema_url)) is not None
