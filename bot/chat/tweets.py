"""Where a chat adapter's tweets come from: a small pool of ready tweets for requests without a
prompt, and the generation engine for the rest.

Sampling a tweet takes the model a while (hundreds of steps), far longer than a chat user should
wait when many ask at once. Requests without a prompt are answered from tweets the serving model
wrote moments earlier for the same persona and temperature, each shown once; the pool refills in
the background after use. Pooled tweets expire after `max_age_s` and are dropped when a newer model
version answers, so a promotion shows up at once. Everything else is generated at once: the
engine (`bot/chat/engine.py`) samples every waiting request in one batch, each tweet the best of
its own candidates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.commands import TweetRequest
from bot.generation import GeneratedText

log = logging.getLogger("nowbot.discord")
Generate = Callable[[TweetRequest, int], Awaitable[list[GeneratedText]]]


class TweetSupply:
    """`get(request)` returns one tweet: from the pool when it can, else freshly generated."""

    def __init__(self, generate: Generate, *, pool_size: int = 32, refill_chunk: int = 8,
                 refill_delay_s: float = 1.0, max_age_s: float = 600.0) -> None:
        self._generate = generate
        self._pool_size = pool_size
        self._refill_chunk = refill_chunk
        self._refill_delay_s = refill_delay_s
        self._max_age_s = max_age_s
        self._pools: dict[TweetRequest, deque[tuple[float, GeneratedText]]] = {}
        self._refills: dict[TweetRequest, asyncio.Task[None]] = {}
        self._changed: dict[TweetRequest, asyncio.Condition] = {}

    def refilling(self, request: TweetRequest) -> bool:
        """Whether the pool of `request` is being refilled now."""
        running = self._refills.get(request)
        return running is not None and not running.done()

    async def get(self, request: TweetRequest) -> GeneratedText:
        if request.prompt:
            return await self._one(request)
        pool = self._fresh(request)
        refill = self._refill_if_low(request)
        if not pool and refill is not None:  # wait for the refill's first tweets, not all of them
            changed = self._changed.setdefault(request, asyncio.Condition())
            async with changed:
                await changed.wait_for(lambda: bool(self._fresh(request)) or refill.done())
        if pool:
            return pool.popleft()[1]
        return await self._one(request)  # the refill failed: generation says why

    async def _one(self, request: TweetRequest) -> GeneratedText:
        return (await self._generate(request, 1))[0]  # one or a one-line error

    def _fresh(self, request: TweetRequest) -> deque[tuple[float, GeneratedText]]:
        pool = self._pools.setdefault(request, deque())
        oldest = time.monotonic() - self._max_age_s
        while pool and pool[0][0] < oldest:
            pool.popleft()
        return pool

    def _refill_if_low(self, request: TweetRequest) -> asyncio.Task[None] | None:
        """The running refill, or a new one when the pool is half empty."""
        running = self._refills.get(request)
        if running is not None and not running.done():
            return running
        if len(self._pools[request]) > self._pool_size // 2:
            return None
        task = asyncio.create_task(self._refill(request))
        self._refills[request] = task
        return task

    async def _refill(self, request: TweetRequest) -> None:
        """Top the pool up to its size in chunks (each tweet of a chunk is chosen from its own
        candidates), so waiters get the first ones soon: they are woken after each chunk. A pool
        that is not empty yet waits `refill_delay_s` first."""
        pool = self._pools[request]
        changed = self._changed.setdefault(request, asyncio.Condition())
        if pool:  # let the burst that drained it be answered before the model takes the CPU
            await asyncio.sleep(self._refill_delay_s)
        try:
            while len(pool) < self._pool_size:
                texts = await self._generate(
                    request, min(self._refill_chunk, self._pool_size - len(pool)))
                if not texts:
                    return
                versions = {text.model_version_id for text in texts}
                if any(old.model_version_id not in versions for _, old in pool):
                    pool.clear()  # a newer model answers now
                now = time.monotonic()
                pool.extend((now, text) for text in texts)
                async with changed:
                    changed.notify_all()
        except Exception as error:  # noqa: BLE001  (waiters then get generation's own error)
            log.debug("tweet pool refill for %s failed: %s", request.persona, error)
        finally:
            async with changed:
                changed.notify_all()
