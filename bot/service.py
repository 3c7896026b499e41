"""`nowbot run`: the scheduler (when this process leads), the configured adapters and the dashboard,
in one asyncio process until SIGINT or SIGTERM.

A leader whose scheduler is sick (its thread died, a job overdue: `bot.scheduler.problems`) says
so in one line, stops the scheduler and releases its lock so that another process can lead; then
it exits with status 1 (`NOWBOT_EXIT_WHEN_SICK`, for a supervisor to restart it) or stays up as
an unwell follower (`/healthz` answers 503) and tries to lead again after a wait.

SIGINT or SIGTERM stops the service within `SHUTDOWN_LIMIT_S` whatever its jobs do: the scheduler
pauses, training children stop, running jobs get `JOB_WAIT_S` to finish and are then left behind;
a second signal exits at once. A delivery left mid-publish is settled by the next leader.

With no configuration at all it seeds the demo persona and image set on an empty database, trains
both models briefly, and prepares campaign posts into the local outbox (`var/outbox`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import exc, select

from bot import health, jobs, publishing
from bot.app import App
from bot.config import Settings
from bot.core.children import stop_children
from bot.core.runtime import Generator, Runtime
from bot.dashboard import start_dashboard
from bot.demo import DEMO_IMAGE_SET, seed_demo
from bot.leader import LeaderLock
from bot.platforms.base import Publisher
from bot.platforms.catalog import Adapter, configured_adapters, configured_publishers
from bot.scheduler import (
    JOB_THREADS, JobSpec, WatchedScheduler, build_scheduler, install_jobs, job_specs, problems,
    wait_for_jobs,
)
from models.registry import Registry
from storage.imagesets import ImageSet
from storage.registry import ModelKind, VersionStatus

log = logging.getLogger("nowbot.service")

TRAINING_JOBS = {"train-text": ModelKind.TEXT, "train-gan": ModelKind.GAN}
DB_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, OSError)
MAX_OUTAGE_WAIT_S = 60.0
INFERENCE_THREADS = 1
CHILD_GRACE_S = 3.0  # a training child's time to stop on SIGTERM before it is killed
JOB_WAIT_S = 3.0  # running jobs' time to end when the scheduler stops; then they are left behind
SHUTDOWN_LIMIT_S = 9.0  # after a stop signal; a process still running then exits at once
SICK_WAITS = 10  # a sick leader's first wait before it tries to lead again, in leader polls

T = TypeVar("T")

def campaign_image_set(app: App) -> str | None:
    """The configured image set, else the demo set when it exists."""
    if app.settings.campaign_image_set:
        return app.settings.campaign_image_set
    with app.sessions() as session:
        found = session.scalar(select(ImageSet.name).where(ImageSet.name == DEMO_IMAGE_SET))
    return found


class ServiceSick(Exception):
    """The leader gave up, sick, and `NOWBOT_EXIT_WHEN_SICK` says to exit (already logged)."""


def start_scheduler(runtime: Runtime, specs: Sequence[JobSpec]) -> WatchedScheduler:
    """Lead: settle deliveries a previous leader left mid-publish, once its calls must have ended
    (the fence: a leader whose lock died with its connection may still be sending), then run the
    jobs (missed runs within the grace time run once now)."""
    settings = runtime.app.settings
    stranded = publishing.mark_interrupted(
        runtime.app.sessions, older_than=publishing.fence(settings.publish_deadline_seconds))
    if stranded:
        log.warning("%d post(s) were left mid-publish; they will be reconciled", stranded)
    scheduler = build_scheduler(runtime.app, WatchedScheduler, specs)
    scheduler.start(paused=True)
    try:
        install_jobs(scheduler, specs, settings.misfire_grace_seconds,
                     queued=settings.job_queue == "postgresql")
        _train_soon_if_nothing_serves(runtime.app, scheduler)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    return scheduler


def _train_soon_if_nothing_serves(app: App, scheduler: BaseScheduler) -> None:
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
    jobs_run = ("jobs queued for `nowbot worker` processes" if settings.job_queue == "postgresql"
                else "jobs run here")
    log.info("nowbot running on %s (%s), publishing to %s; dashboard %s (%s); Ctrl-C stops",
             where, jobs_run, ", ".join(runtime.publishers) or "nothing yet", pages, review)
    health.SERVICE.clear()
    try:
        while not stop.is_set():
            await _until_database_answers(
                lambda: _lead_or_follow(runtime, leader, specs, SICK_WAITS * leader_poll_s),
                stop, leader_poll_s)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), leader_poll_s)
    finally:
        log.info("shutting down")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _stop_scheduler(runtime)
        await asyncio.to_thread(leader.release)
        await runner.cleanup()
        jobs.configure(None)
        health.SERVICE.clear()


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


async def _lead_or_follow(runtime: Runtime, leader: LeaderLock, specs: Sequence[JobSpec],
                          sick_wait_s: float) -> None:
    """Start the scheduler when this process becomes the leader (unless it gave up, sick, less
    than its wait ago); stop it when leadership is lost, and give up when it is sick."""
    scheduler = runtime.scheduler
    if scheduler is None:
        if health.SERVICE.may_lead() and await asyncio.to_thread(leader.acquire):
            log.info("leading: starting the scheduler")
            try:
                runtime.scheduler = await asyncio.to_thread(start_scheduler, runtime, specs)
            except exc.DBAPIError as error:
                if isinstance(error, DB_ERRORS):  # an outage: waited out, still leading
                    raise
                # A database that answers but takes no writes (read-only, say): another may lead.
                reason = (str(error.orig).strip().splitlines() or [""])[0]
                await _give_up(runtime, leader, f"cannot start the scheduler: "
                               f"{type(error.orig).__name__}: {reason}", sick_wait_s)
                return
            health.SERVICE.leading()
    elif not await asyncio.to_thread(leader.held):
        log.warning("leadership lost: stopping the scheduler and its jobs")
        await _stop_scheduler(runtime)
        runtime.stopping.clear()  # a later leadership may start children again
    elif sick := problems(scheduler):
        await _give_up(runtime, leader, "; ".join(sick), sick_wait_s)


async def _give_up(runtime: Runtime, leader: LeaderLock, problem: str, wait_s: float) -> None:
    """A sick leader stops its scheduler and releases its lock, so that another process can lead;
    then it exits (`ServiceSick`) or waits before it tries to lead again."""
    exiting = runtime.app.settings.exit_when_sick
    wait_s = health.SERVICE.gave_up(problem, wait_s)
    then = ("exiting (NOWBOT_EXIT_WHEN_SICK)" if exiting
            else f"trying to lead again in {wait_s:.0f} s")
    log.error("unwell: %s; giving up leadership, %s", problem, then)
    await _stop_scheduler(runtime)
    runtime.stopping.clear()
    await asyncio.to_thread(leader.release)
    if exiting:
        raise ServiceSick(problem)


async def _stop_scheduler(runtime: Runtime) -> None:
    """Stop this process's scheduler, if it runs one, without waiting long: no new runs at once,
    training children stopped, running jobs given `JOB_WAIT_S` to end and then left behind
    (another leader may start the same job meanwhile)."""
    scheduler, runtime.scheduler = runtime.scheduler, None
    if scheduler is None:
        return
    scheduler.pause()
    await asyncio.to_thread(stop_children, runtime, CHILD_GRACE_S)
    left = await asyncio.to_thread(wait_for_jobs, scheduler, JOB_WAIT_S)
    if left:
        log.warning("job(s) %s still running after %.0f s; stopping without waiting for them",
                    ", ".join(sorted(left)), JOB_WAIT_S)
    # Its thread may be stuck in a job store call, holding the lock `shutdown` takes: a daemon
    # thread, so that neither this loop nor the process waits for it.
    stopping = threading.Thread(target=scheduler.shutdown, args=(False,), daemon=True)
    stopping.start()
    await asyncio.to_thread(stopping.join, JOB_WAIT_S)


def run_service(app: App, generator: Generator) -> None:
    """Run `serve` until SIGINT or SIGTERM. Images and drawings are drawn in this process with
    TensorFlow on `INFERENCE_THREADS` (unless the environment says otherwise), so that chat's
    text generation keeps a core; training children get their own cap."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, str(INFERENCE_THREADS))
    run_until_signalled(lambda stop: serve(app, generator, stop=stop))


def run_until_signalled(service: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `service(stop)` until SIGINT or SIGTERM sets `stop`. A process still running
    `SHUTDOWN_LIMIT_S` after the signal, or signalled again, exits at once (status 1); one whose
    leader gave up sick (`ServiceSick`) exits with status 1. Jobs still running are not waited
    for (Python would wait for their threads at exit)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def signalled(signum: int) -> None:
            name = signal.Signals(signum).name
            if stop.is_set():
                _exit_now(f"{name} again")
            stop.set()
            limit = threading.Timer(SHUTDOWN_LIMIT_S, _exit_now,
                                    [f"still stopping {SHUTDOWN_LIMIT_S:.0f} s after {name}"])
            limit.daemon = True
            limit.start()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, signalled, signum)
        await service(stop)

    code = 0
    try:
        asyncio.run(main())
    except ServiceSick:
        code = 1
    _exit_past_running_jobs(code)
    if code:
        raise SystemExit(code)


def _exit_past_running_jobs(code: int) -> None:
    """Exit with `code` now if a job's thread still runs (the scheduler was stopped without
    waiting for it): Python would wait for it at exit."""
    threads = [thread for thread in threading.enumerate() if thread.name.startswith(JOB_THREADS)]
    deadline = time.monotonic() + 1.0  # idle ones end at once
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        _exit(code)


def _exit_now(why: str) -> NoReturn:
    """End the process at once (status 1), its training children killed first."""
    log.warning("%s: exiting now", why)
    with suppress(RuntimeError):  # no runtime configured: not started, or already stopped
        stop_children(jobs.current(), grace_s=0)
    _exit(1)


def _exit(code: int) -> NoReturn:
    logging.shutdown()
    os._exit(code)
