"""What runs next: the scheduler's jobs and their next run times, read one way for every edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import text

from bot.app import App
from bot.scheduler import JOBS_TABLE, running_jobs


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    name: str  # empty when read from the job store
    next_run: datetime | None  # None: paused
    running: bool | None = None  # None: not known here (another process leads)


def next_runs(app: App, scheduler: BaseScheduler | None = None) -> list[ScheduledJob]:
    """Every job, soonest first (paused ones last): from `scheduler` when this process leads
    (with whether each is running), else from the leader's job store, read without unpickling
    (a follower runs no scheduler)."""
    if scheduler is not None:
        running = running_jobs(scheduler)
        jobs = [ScheduledJob(job.id, job.name, job.next_run_time, job.id in running)
                for job in scheduler.get_jobs()]
    else:
        with app.engine.connect() as connection:
            if not connection.dialect.has_table(connection, JOBS_TABLE):
                return []
            rows = connection.execute(text(f"SELECT id, next_run_time FROM {JOBS_TABLE}"))
            jobs = [ScheduledJob(job_id, "", _utc(when)) for job_id, when in rows]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(jobs, key=lambda job: job.next_run or far)


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None
