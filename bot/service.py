"""`nowbot run`: the scheduler (when this process leads), the configured adapters and the dashboard,
in one asyncio process until SIGINT or SIGTERM.

With no configuration at all it seeds the demo persona and image set on an empty database, trains
both models briefly, and prepares campaign posts into the local outbox (`var/outbox`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from contextlib import suppress
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import exc, select

from bot import jobs, publishing
from bot.app import App
from bot.config import Settings
from bot.core.children import stop_children
from bot.core.runtime import Generator, Runtime
from bot.dashboard import start_dashboard
from bot.demo import DEMO_IMAGE_SET, seed_demo
from bot.leader import LeaderLock
from bot.platforms.base import Publisher
from bot.platforms.local.publisher import LocalPublisher
from bot.scheduler import JobSpec, build_scheduler, install_jobs, job_specs
from models.registry import Registry
from storage.imagesets import ImageSet
from storage.registry import ModelKind, VersionStatus

log = logging.getLogger("nowbot.service")

TRAINING_JOBS = {"train-text": ModelKind.TEXT, "train-gan": ModelKind.GAN}
DB_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, OSError)
MAX_OUTAGE_WAIT_S = 60.0
INFERENCE_THREADS = 1

T = TypeVar("T")

Adapter = Callable[[Runtime], Awaitable[None]]
"""A long-running coroutine that connects a platform (Discord, ...); cancelled on shutdown."""


def configured_adapters(settings: Settings) -> list[Adapter]:
    """The adapters whose credentials are configured. Adapters for new platforms go here."""
    adapters: list[Adapter] = []
    if settings.discord_token is not None:
        from bot.platforms.discord.client import start_discord

        adapters.append(start_discord)
    return adapters


def configured_publishers(settings: Settings) -> dict[str, Publisher]:
    """X, Mastodon and Bluesky where their credentials are set; the local outbox folder when none
    is (Discord adds itself when its client connects)."""
    publishers: dict[str, Publisher] = {}
    if settings.x_post_configured:
        from bot.platforms.x.publisher import XPublisher

        publishers["x"] = XPublisher(settings)
    if settings.mastodon_configured:
        from bot.platforms.mastodon.publisher import MastodonPublisher

        publishers["mastodon"] = MastodonPublisher(settings)
    if settings.bluesky_configured:
        from bot.platforms.bluesky.publisher import BlueskyPublisher

        publishers["bluesky"] = BlueskyPublisher(settings)
    return publishers or {"local": LocalPublisher(settings.data_dir / "outbox")}


def campaign_image_set(app: App) -> str | None:
    """The configured image set, else the demo set when it exists."""
    if app.settings.campaign_image_set:
        return app.settings.campaign_image_set
    with app.sessions() as session:
        found = session.scalar(select(ImageSet.name).where(ImageSet.name == DEMO_IMAGE_SET))
    return found


def start_scheduler(runtime: Runtime, specs: Sequence[JobSpec]) -> BackgroundScheduler:
    """Lead: settle posts a dead leader left mid-publish, then run the jobs (missed runs within
    the grace time run once now)."""
    stranded = publishing.mark_interrupted(runtime.app.sessions)
    if stranded:
        log.warning("%d post(s) were left mid-publish; they will be reconciled", stranded)
    scheduler = build_scheduler(runtime.app, BackgroundScheduler)
    scheduler.start(paused=True)
    install_jobs(scheduler, specs, runtime.app.settings.misfire_grace_seconds)
    _train_soon_if_nothing_serves(runtime.app, scheduler)
    scheduler.resume()
    return scheduler


def _train_soon_if_nothing_serves(app: App, scheduler: BackgroundScheduler) -> None:
    """A model kind with no serving version yet (say, its first training was stopped with the
    bot) trains now rather than at its job's next interval, hours away."""
    serving = {v.kind for v in Registry(app.sessions, app.artifacts_dir).versions()
               if v.status == VersionStatus.SERVING}
    for job_id, kind in TRAINING_JOBS.items():
        job = scheduler.get_job(job_id)
        if job is not None and kind not in serving:
            job.modify(next_run_time=datetime.now(UTC))


async def serve(
    app: App,
    generator: Generator,
    *,
    stop: asyncio.Event,
    publishers: dict[str, Publisher] | None = None,
    adapters: Sequence[Adapter] | None = None,
    specs: Sequence[JobSpec] | None = None,
    seed: bool = True,
    leader_poll_s: float = 1.0,
) -> None:
    """Run the service until `stop` is set. Every process serves the dashboard and adapters; only
    the one holding the leader lock runs the scheduler, and a follower takes over when it dies."""
    settings = app.settings

    async def prepare() -> str | None:
        if seed:
            await asyncio.to_thread(seed_demo, app)
        return await asyncio.to_thread(campaign_image_set, app)

    answered, image_set = await _until_database_answers(prepare, stop, leader_poll_s)
    if not answered:
        return
    runtime = Runtime(
        app=app, generator=generator,
        publishers=publishers if publishers is not None else configured_publishers(settings),
        image_set=image_set,
    )
    jobs.configure(runtime)
    specs = list(specs if specs is not None else job_specs(settings))
    leader = LeaderLock(app.engine)
    runner = await start_dashboard(runtime)
    tasks = [asyncio.create_task(start(runtime)) for start in
             (adapters if adapters is not None else configured_adapters(settings))]
    where = app.engine.url.render_as_string(hide_password=True)
    pages = ", ".join(f"http://{host}:{port}/" for host, port, *_ in runner.addresses)
    review = ("posts wait for approval there" if settings.reviewing
              else "posts are published without review")
    log.info("nowbot running on %s, publishing to %s; dashboard %s (%s); Ctrl-C stops", where,
             ", ".join(runtime.publishers) or "nothing yet", pages, review)
    try:
        while not stop.is_set():
            await _until_database_answers(lambda: _lead_or_follow(runtime, leader, specs),
                                          stop, leader_poll_s)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), leader_poll_s)
    finally:
        log.info("shutting down")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runtime.scheduler is not None:
            runtime.scheduler.pause()  # no new runs; then stop training, let running jobs finish
        await asyncio.to_thread(stop_children, runtime)
        if runtime.scheduler is not None:
            await asyncio.to_thread(runtime.scheduler.shutdown, True)
            runtime.scheduler = None
        await asyncio.to_thread(leader.release)
        await runner.cleanup()
        jobs.configure(None)


async def _until_database_answers(
    attempt: Callable[[], Awaitable[T]], stop: asyncio.Event, first_wait_s: float,
) -> tuple[bool, T | None]:
    """Await `attempt` until it gets past a database outage, waiting longer after each failure
    (doubling, at most a minute) and logging each one; never raises one. Returns whether it
    completed, and its result; `(False, None)` when `stop` was set first."""
    wait = 0.0
    while not stop.is_set():
        try:
            return True, await attempt()
        except DB_ERRORS as error:
            wait = min(max(2 * wait, first_wait_s), MAX_OUTAGE_WAIT_S)
            log.warning("database unreachable (%s); trying again in %.0f s",
                        type(error).__name__, wait)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
    return False, None


async def _lead_or_follow(runtime: Runtime, leader: LeaderLock, specs: Sequence[JobSpec]) -> None:
    """Start the scheduler when this process becomes the leader; when leadership is lost,
    stop starting jobs at once, stop the training children and wait for running jobs, so that
    the next leader's jobs do not overlap with ours for longer than one poll."""
    if runtime.scheduler is None:
        if await asyncio.to_thread(leader.acquire):
            log.info("leading: starting the scheduler")
            runtime.scheduler = await asyncio.to_thread(start_scheduler, runtime, specs)
    elif not await asyncio.to_thread(leader.held):
        log.warning("leadership lost: stopping the scheduler and its jobs")
        scheduler, runtime.scheduler = runtime.scheduler, None
        scheduler.pause()
        await asyncio.to_thread(stop_children, runtime)
        await asyncio.to_thread(scheduler.shutdown, True)
        runtime.stopping.clear()  # a later leadership may start children again


def run_service(app: App, generator: Generator) -> None:
    """Run `serve` until SIGINT or SIGTERM. Images and drawings are drawn in this process with
    TensorFlow on `INFERENCE_THREADS` (unless the environment says otherwise), so that chat's
    text generation keeps a core; training children get their own cap."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, str(INFERENCE_THREADS))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(app, generator, stop=stop)

    asyncio.run(main())
