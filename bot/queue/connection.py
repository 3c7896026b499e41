"""procrastinate apps on nowbot's PostgreSQL database: one that runs workers (asynchronous, its own
pool) and one that only queues jobs inside the caller's SQLAlchemy transaction."""

from __future__ import annotations

from typing import Any

import procrastinate
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.queue.tasks import register

NAMESPACE = "nowbot"
# A worker on a half-dead connection hangs (procrastinate issue 1334): TCP keepalives and a
# user timeout make the kernel give such a connection up within about half a minute.
KEEPALIVE = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
             "keepalives_count": "3", "tcp_user_timeout": "30000", "connect_timeout": "10"}


def conninfo(settings: Settings) -> str:
    """The libpq connection string of the configured PostgreSQL database (its query options,
    such as a test's search_path, kept), with keepalives."""
    url = make_url(settings.resolved_database_url).set(drivername="postgresql")
    query: dict[str, Any] = {**KEEPALIVE, **url.query}
    return url.set(query=query).render_as_string(hide_password=False)


def _app(connector: procrastinate.BaseConnector) -> procrastinate.App:
    app = procrastinate.App(connector=connector)
    register(app, NAMESPACE)
    return app


def worker_app(settings: Settings, *, pool_size: int = 4) -> procrastinate.App:
    """An app for `open_async` and running a worker."""
    return _app(procrastinate.PsycopgConnector(
        conninfo=conninfo(settings), min_size=1, max_size=pool_size))


def deferring_app(settings: Settings) -> procrastinate.App:
    """An app that queues jobs on a given connection (`defer`); it opens none of its own."""
    return _app(procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings)))


def defer(app: procrastinate.App, connection: Connection, task: str, *,
          queue: str = "default", lock: str | None = None, queueing_lock: str | None = None,
          **kwargs: Any) -> int | None:
    """Queue `task` (a name in `bot.queue.tasks`) in `connection`'s transaction, so that it is
    queued exactly when the transaction commits; returns the job id, or None when a job with the
    same `queueing_lock` is already waiting."""
    deferrer = app.configure_task(f"{NAMESPACE}:{task}", queue=queue, lock=lock,
                                  queueing_lock=queueing_lock,
                                  connection=connection.connection.driver_connection)
    try:
        with connection.begin_nested():  # a refused job must not abort the caller's transaction
            return deferrer.defer(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        return None
