"""`nowbot worker`: a process that runs queued jobs (any number, on any machine).

It holds what the service's process holds for the same jobs (publishers, the models, training
children) and runs `bot.jobs`' functions as the queue hands them out. Jobs of a worker that stops
beating are queued again by the leader's upkeep (`bot.queue.upkeep`); a job may therefore run
twice, so each keeps its own guarantee (a delivery's claim, a campaign slot's post).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence
from contextlib import suppress

from bot import generation, jobs
from bot.app import App
from bot.core.children import stop_children
from bot.core.runtime import Generator, Runtime
from bot.platforms.base import Publisher
from bot.platforms.catalog import configured_publishers
from bot.queue.chat import close_engines
from bot.queue.connection import worker_app
from bot.queue.dispatch import Dispatcher
from bot.queue.upkeep import HEARTBEATS_PER_STALL
from bot.scheduler import describe_error
from bot.service import ServiceSick, campaign_image_set

log = logging.getLogger("nowbot.worker")
QUEUES = ("default", "training", "generate")
JOB_WAIT_S = 5.0  # running jobs' time to end after a stop signal, then they are left behind
CHILD_GRACE_S = 3.0


async def work(app: App, stop: asyncio.Event, *, queues: Sequence[str] = QUEUES,
               concurrency: int = 4, name: str | None = None, generator: Generator = generation,
               publishers: dict[str, Publisher] | None = None) -> None:
    """Run queued jobs from `queues`, `concurrency` at a time, until `stop` is set. The jobs act
    on a runtime like the service's: every configured platform's publisher (unless `publishers`
    says otherwise), the campaign's image set, publishing rounds queued."""

    runtime = Runtime(
        app=app, generator=generator,
        publishers=(configured_publishers(app.settings, chat=True) if publishers is None
                    else publishers),
        image_set=await asyncio.to_thread(campaign_image_set, app), queue=Dispatcher(app))
    jobs.configure(runtime)
    stall_s = app.settings.queue_stall_seconds
    name = name or f"{socket.gethostname()}-{'+'.join(queues)}"
    queue = worker_app(app.settings, pool_size=concurrency + 2)
    try:
        async with queue.open_async():
            running = asyncio.create_task(queue.run_worker_async(
                queues=list(queues), concurrency=concurrency, name=name,
                install_signal_handlers=False,
                update_heartbeat_interval=stall_s / HEARTBEATS_PER_STALL,
                stalled_worker_timeout=stall_s, shutdown_graceful_timeout=JOB_WAIT_S))
            log.info("worker %s running jobs from %s, %d at a time; Ctrl-C stops", name,
                     ", ".join(queues), concurrency)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if running.done() and (error := running.exception()) is not None:
                raise ServiceSick(f"the worker stopped: {describe_error(error)}")
            log.info("worker %s stopping", name)
            runtime.stopping.set()
            await asyncio.to_thread(stop_children, runtime, CHILD_GRACE_S)
            running.cancel()
            stopping.cancel()
            with suppress(asyncio.CancelledError):
                await running
    except ServiceSick as sick:
        log.error("%s; exiting", sick)
        raise
    finally:
        await asyncio.to_thread(close_engines)
        for publisher in runtime.publishers.values():
            if callable(close := getattr(publisher, "close", None)):
                await asyncio.to_thread(close)
        jobs.configure(None)
