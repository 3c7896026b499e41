"""Concurrent requests for the same tweet share one generation call.

Sampling a batch of tweets costs little more than sampling one (the model steps all rows at once),
so when many people ask at the same moment (a burst of `/tweet`), equal requests that arrive within
a few milliseconds, or while an equal one is being generated, are answered by one call for
`count` different tweets instead of queueing one call each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from models.errors import ModelError

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class Batcher(Generic[K, R]):
    """Coalesces `get(key)` calls into `generate(key, count)` calls of at most `max_batch`."""

    def __init__(self, generate: Callable[[K, int], Awaitable[list[R]]], *,
                 max_batch: int = 16, window_s: float = 0.005) -> None:
        self._generate = generate
        self._max_batch = max_batch
        self._window_s = window_s
        self._waiting: dict[K, list[asyncio.Future[R]]] = {}
        self._draining: set[K] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> R:
        """One result for `key`, generated together with equal concurrent requests."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if key not in self._draining:
            self._draining.add(key)
            task = asyncio.create_task(self._drain(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, key: K) -> None:
        """Serve `key`'s waiters batch by batch until none are left (no await between the
        last check and the clean-up, so a newcomer either joins a batch or starts a new drain)."""
        try:
            await asyncio.sleep(self._window_s)  # let the rest of a burst join
            await self._serve(key)
        finally:
            self._waiting.pop(key, None)
            self._draining.discard(key)

    async def _serve(self, key: K) -> None:
        while self._waiting.get(key):
            batch = self._waiting[key][: self._max_batch]
            del self._waiting[key][: len(batch)]
            try:
                results = await self._generate(key, len(batch))
            except Exception as error:  # noqa: BLE001  (each waiter gets it)
                for future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for index, future in enumerate(batch):
                if future.done():
                    continue
                if index < len(results):
                    future.set_result(results[index])
                else:
                    future.set_exception(ModelError("the model returned fewer tweets than asked"))
