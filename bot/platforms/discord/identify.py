"""Logins spread over time across every shard process of one bot: Discord accepts one IDENTIFY
per bucket (`shard_id % max_concurrency`) at a time, 5 seconds apart.

Each bucket has a lock shared by the processes of one database, of the leader lock's kind
(`bot.leader`): a PostgreSQL advisory lock on a connection of its own, or on SQLite (one
machine) an OS file lock next to the database file. A shard about to IDENTIFY takes its
bucket's lock and holds it for the spacing after sending, so the next shard of that bucket, in
any process, identifies after it. A process that dies drops its locks with it.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from bot.leader import LeaderLock

POLL_S = 0.1  # how often a waiting shard tries its bucket's lock again
SEND_MARGIN_S = 0.1  # held beyond the spacing: the IDENTIFY itself takes a moment to arrive


class IdentifyGate:
    """`await wait_turn(bucket)` before each IDENTIFY: returns when this shard may send it, and
    keeps others of the bucket waiting `spacing_s` (plus a margin) after that."""

    def __init__(self, engine: Engine, spacing_s: float) -> None:
        self.engine, self.spacing_s = engine, spacing_s
        self._releases: set[asyncio.Task[None]] = set()

    async def wait_turn(self, bucket: int) -> None:
        lock = LeaderLock(self.engine, f"discord-identify-{bucket}")
        while not await asyncio.to_thread(lock.acquire):
            await asyncio.sleep(POLL_S)
        release = asyncio.create_task(self._release_later(lock))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)

    async def close(self) -> None:
        """Release every lock still held (the process is stopping: no IDENTIFY follows)."""
        for release in list(self._releases):
            release.cancel()
        await asyncio.gather(*self._releases, return_exceptions=True)

    async def _release_later(self, lock: LeaderLock) -> None:
        try:
            await asyncio.sleep(self.spacing_s + SEND_MARGIN_S)
        finally:
            await asyncio.to_thread(lock.release)
