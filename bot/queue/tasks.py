"""The queue's tasks: each runs one of the job functions of `bot.jobs` (the same ones the
embedded shape runs in the service's threads) on a worker, whose `Runtime` the worker sets with
`bot.jobs.configure`; and the generation tasks chat processes queue (`bot.queue.chat`)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import procrastinate

from bot import jobs

log = logging.getLogger("nowbot.worker")
JOB_MODULE = "bot.jobs"
SLOTTED = {"campaign_post"}  # jobs that take their scheduled slot (one result per slot)


def scheduled(func: str, job_id: str, slot: str) -> None:
    """A run of the scheduled job `job_id`, due at `slot`, that calls `func` (`bot.jobs:name`)."""
    module, _, name = func.partition(":")
    if module != JOB_MODULE:
        raise ValueError(f"not a nowbot job: {func}")
    function = getattr(importlib.import_module(module), name)
    log.debug("job %s (due %s) on this worker", job_id, slot)
    if name in SLOTTED:
        function(slot=f"{job_id}@{slot}")
    else:
        function()


def publish_round(platform: str) -> None:
    """Reconcile and publish `platform`'s due deliveries (one round at a time per platform)."""
    jobs.platform_round(platform)


async def chat_tweets(request_id: str, request: dict[str, Any], count: int) -> None:
    """Write `count` tweets for a chat request and leave them for the process that asked."""
    from bot.queue import chat

    await chat.answer_tweets(jobs.current(), request_id, request, count)


async def chat_reply(request_id: str, command: str, args: list[Any]) -> None:
    """Run a model command (image, progress, draw) for a chat request and leave its reply."""
    from bot.queue import chat

    await chat.answer_reply(jobs.current(), request_id, command, args)


def register(app: procrastinate.App, namespace: str) -> None:
    """Register the tasks on `app` as `namespace:name` (each app gets tasks of its own)."""
    for task in (scheduled, publish_round, chat_tweets, chat_reply):
        app.task(name=f"{namespace}:{task.__name__}", pass_context=False)(task)
