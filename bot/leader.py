"""Leader election: of all `nowbot run` processes on one database, only the leader runs jobs.

PostgreSQL: a session-level advisory lock held on a dedicated connection (released by the server
when the process dies). SQLite: an OS file lock next to the database file (released by the kernel
when the process dies). Either way a crashed leader never blocks a successor.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import suppress
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("nowbot.leader")


class LeaderLock:
    """Try to become leader with `acquire()`; `held()` re-checks; `release()` steps down.
    Another `name` makes another lock of the same kind (one per Discord login bucket)."""

    def __init__(self, engine: Engine, name: str = "leader") -> None:
        self.engine, self.name = engine, name
        self._connection: Connection | None = None
        self._file_lock: FileLock | None = None
        self._key: int | None = None
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:":
                raise ValueError("leader election needs a file-backed SQLite database")
            self._file_lock = FileLock(f"{Path(database).resolve()}.{self.name}.lock",
                                       thread_local=False)

    @property
    def is_leader(self) -> bool:
        if self._file_lock is not None:
            return self._file_lock.is_locked
        return self._connection is not None

    def acquire(self) -> bool:
        """Become leader if nobody is; returns whether this process now leads."""
        if self.is_leader:
            return True
        if self._file_lock is not None:
            try:
                self._file_lock.acquire(timeout=0)
            except Timeout:
                return False
            return True
        connection = self.engine.connect()
        try:
            if self._key is None:
                schema = connection.scalar(text("select current_schema()"))
                name = f"nowbot.{self.name}:{schema}"
                digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
                self._key = int.from_bytes(digest, "big", signed=True)
            got = connection.scalar(text("select pg_try_advisory_lock(:key)"), {"key": self._key})
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def held(self) -> bool:
        """Whether leadership is still ours (on PostgreSQL the lock dies with its connection)."""
        if self._connection is None:
            return self.is_leader
        try:
            self._connection.exec_driver_sql("select 1")
            self._connection.commit()
        except Exception:  # noqa: BLE001  (a dropped connection took the lock with it)
            log.warning("lost the database connection holding leadership")
            self._drop_connection()
            return False
        return True

    def release(self) -> None:
        """Step down so another process can lead."""
        if self._file_lock is not None and self._file_lock.is_locked:
            self._file_lock.release(force=True)
        if self._connection is not None:
            try:
                self._connection.execute(text("select pg_advisory_unlock(:key)"), {"key": self._key})
                self._connection.commit()
            finally:
                self._drop_connection()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with suppress(Exception):  # already broken: nothing left to close cleanly
                self._connection.close()
            self._connection = None
