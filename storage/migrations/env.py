"""Alembic environment: runs migrations on the engine that `storage.db.upgrade` passes in."""

from alembic import context
from sqlalchemy import text

from storage.migrations_filter import include_object
from storage.schema import Base

engine = context.config.attributes["engine"]
MIGRATION_LOCK = 0x6E6F77626F74  # "nowbot": processes starting together migrate one at a time

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":  # held until this transaction ends
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
