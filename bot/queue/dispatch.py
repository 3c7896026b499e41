"""Putting work on the queue: the scheduler's executor (each scheduled run becomes a queued job,
once per slot) and the `Dispatcher` workers use to queue publishing rounds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import procrastinate
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from bot.app import App
from bot.queue.connection import defer, deferring_app
from bot.scheduler import JobSpec, describe_error
from storage.jobqueue import JobSlot

log = logging.getLogger("nowbot.queue")


def queue_run(engine: Engine, queuing: procrastinate.App, spec: JobSpec,
              slot: datetime) -> int | None:
    """Queue the run of `spec`'s job due at `slot` unless that slot was queued before (a new
    leader firing it again), or a coalesced job's run waits already; the slot's row and the job
    commit together. Returns the job id, or None when nothing was queued."""
    with engine.begin() as connection:
        claimed = connection.execute(
            insert(JobSlot).values(job_id=spec.id, slot=slot).on_conflict_do_nothing()
            .returning(JobSlot.job_id)).first()
        if claimed is None:
            log.info("job %s: its run due %s was queued before", spec.id, slot)
            return None
        return defer(queuing, connection, "scheduled", queue=spec.queue or "default",
                     queueing_lock=spec.id if spec.coalesced else None,
                     func=spec.func, job_id=spec.id, slot=slot.isoformat())


class QueueExecutor(BaseExecutor):
    """An APScheduler executor that queues each run (in a thread of its own, so that a slow
    database never holds the scheduler's loop) instead of running it; the run counts as done
    when it is queued. `specs` are the jobs it queues."""

    def __init__(self, app: App, specs: Sequence[JobSpec]) -> None:
        super().__init__()
        self.app = app
        self.specs = {spec.id: spec for spec in specs}
        self._queuing = deferring_app(app.settings)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="nowbot-job-queueing")

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        future = self._pool.submit(queue_run, self.app.engine, self._queuing, self.specs[job.id],
                                   run_times[-1])  # coalesced: the newest of the missed runs
        future.add_done_callback(lambda done: self._queued(job, run_times, done))

    def _queued(self, job: Job, run_times: list[datetime], done: Future[int | None]) -> None:
        error = done.exception()
        if error is not None:
            log.warning("job %s could not be queued (%s); it runs at its next time", job.id,
                        describe_error(error))
        # Said above in one line: the scheduler's listener would log a failed run's traceback.
        events = [JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias,  # noqa: SLF001
                                    moment, retval=None if error else done.result())
                  for moment in run_times]
        self._run_job_success(job.id, events)  # dispatches the events; the run is over

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


class Dispatcher:
    """What a worker queues itself: each platform's publishing round, one waiting and one running
    at a time per platform (the account's posts go out in order)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._queuing = deferring_app(app.settings)

    def publish_rounds(self, platforms: list[str]) -> None:
        with self.app.engine.begin() as connection:
            for platform in platforms:
                key = f"publish-{platform}"
                defer(self._queuing, connection, "publish_round", lock=key, queueing_lock=key,
                      platform=platform)
