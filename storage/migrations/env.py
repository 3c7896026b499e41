"""Alembic environment: runs migrations on the engine that `storage.db.upgrade` passes in."""

from alembic import context

from storage.migrations_filter import include_object
from storage.schema import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
