"""The queue's upkeep, run by the scheduler's leader itself (not queued: it must run when no
worker does): jobs whose worker stopped beating are queued again, and finished work is pruned
(a large job table slows every fetch: procrastinate issue 1242)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import procrastinate
from sqlalchemy import delete

from bot import jobs
from bot.app import App
from bot.queue.connection import worker_app
from storage.base import utcnow
from storage.jobqueue import ChatAnswer, JobSlot

log = logging.getLogger("nowbot.queue")
HEARTBEATS_PER_STALL = 6  # a worker beats this often within `NOWBOT_QUEUE_STALL_SECONDS`
KEEP_JOBS_HOURS = 24
KEEP_SLOTS = timedelta(days=7)
KEEP_ANSWERS = timedelta(minutes=10)  # answers nobody came for (the asking process died)


def upkeep() -> int:
    """Queue again the jobs of dead workers, then prune; returns how many were queued again."""
    app = jobs.current().app
    retried = asyncio.run(_retry_stalled(app))
    now = utcnow()
    with app.sessions.begin() as session:
        session.execute(delete(JobSlot).where(JobSlot.queued_at < now - KEEP_SLOTS))
        session.execute(delete(ChatAnswer).where(ChatAnswer.created_at < now - KEEP_ANSWERS))
    return retried


async def _retry_stalled(app: App) -> int:
    """Queue again each job whose worker stopped beating; one that waits already under the same
    queueing lock (a publishing round, say) does the same work, so the stalled one ends failed."""
    queue = worker_app(app.settings, pool_size=1)
    async with queue.open_async():
        manager = queue.job_manager
        stalled = list(await manager.get_stalled_jobs(
            seconds_since_heartbeat=app.settings.queue_stall_seconds))
        for job in stalled:
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.UniqueViolation:
                await manager.finish_job(job, procrastinate.jobs.Status.FAILED, delete_job=False)
                log.warning("job %s (%s) was left by a worker that stopped; the same job waits "
                            "already", job.id, job.task_name)
            else:
                log.warning("job %s (%s) was left by a worker that stopped; queued again",
                            job.id, job.task_name)
        await manager.delete_old_jobs(nb_hours=KEEP_JOBS_HOURS)
    return len(stalled)
