"""The job scheduler: APScheduler 3 with its jobs stored in the app database.

Only the leader (see `bot.leader`) runs a scheduler: APScheduler 3 must never share a job store
between two running schedulers. Jobs have fixed ids, and `install_jobs` keeps an unchanged job's
stored next run time, so a run missed while the bot was down still happens on restart (once,
coalesced) when it is within `misfire_grace_time`; APScheduler's default grace is one second.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.config import Settings

log = logging.getLogger("nowbot.scheduler")
JOBS_TABLE = "apscheduler_jobs"
SchedulerT = TypeVar("SchedulerT", bound=BaseScheduler)
_RUNNING: weakref.WeakKeyDictionary[BaseScheduler, Counter[str]] = weakref.WeakKeyDictionary()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: `func` is a `module:function` reference (jobs are pickled by name)."""

    id: str
    func: str
    trigger: BaseTrigger
    name: str
    args: tuple[Any, ...] = ()
    first_run_now: bool = field(default=False)  # a new job runs at once, then on its trigger


def job_specs(settings: Settings) -> list[JobSpec]:
    """The service's jobs for these settings."""
    specs = [
        JobSpec("outbox", "bot.jobs:process_outbox",
                IntervalTrigger(seconds=settings.outbox_interval_seconds, timezone=UTC),
                "publish approved posts, reconcile unknown ones", first_run_now=True),
        JobSpec("train-text", "bot.jobs:train_text",
                IntervalTrigger(minutes=settings.train_text_every_minutes, timezone=UTC),
                f"retrain the text model of {settings.campaign_persona}", first_run_now=True),
        JobSpec("train-gan", "bot.jobs:train_gan",
                IntervalTrigger(minutes=settings.train_gan_every_minutes, timezone=UTC),
                "train the GAN a batch and draw a new image batch", first_run_now=True),
        JobSpec("train-requests", "bot.jobs:train_requested",
                IntervalTrigger(seconds=settings.outbox_interval_seconds, timezone=UTC),
                "run training asked for from chat (/train)", first_run_now=True),
    ]
    for number, expression in enumerate(settings.campaign_crons, start=1):
        specs.append(JobSpec(f"campaign-{number}", "bot.jobs:campaign_post",
                             CronTrigger.from_crontab(expression, timezone=UTC),
                             f"prepare a campaign post ({expression})"))
    if settings.x_read_configured and settings.collect_query:
        specs.append(JobSpec("collect", "bot.jobs:collect",
                             IntervalTrigger(minutes=settings.collect_every_minutes, timezone=UTC),
                             f"collect '{settings.collect_query}' from X", first_run_now=True))
    return specs


def build_scheduler(app: App, scheduler_class: type[SchedulerT]) -> SchedulerT:
    """A scheduler (not started) storing its jobs in the app database, with deliberate defaults."""
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=app.engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={
            "coalesce": True,  # many missed runs become one
            "misfire_grace_time": app.settings.misfire_grace_seconds,
            "max_instances": 1,
        },
        timezone=UTC,
    )
    scheduler.add_listener(_log_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    _RUNNING[scheduler] = Counter()
    scheduler.add_listener(lambda event: _count(scheduler, event),
                           EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    return scheduler


def _count(scheduler: BaseScheduler, event: JobEvent) -> None:
    with _RUNNING_LOCK:
        counts = _RUNNING.setdefault(scheduler, Counter())
        counts[event.job_id] += 1 if event.code == EVENT_JOB_SUBMITTED else -1


def running_jobs(scheduler: BaseScheduler) -> set[str]:
    """Ids of `scheduler`'s jobs running now (counted from its events; `build_scheduler`'s only)."""
    with _RUNNING_LOCK:
        return {job_id for job_id, count in _RUNNING.get(scheduler, Counter()).items() if count > 0}


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s (past the grace time)", event.job_id,
                    event.scheduled_run_time)
    else:
        log.error("job %s failed", event.job_id, exc_info=event.exception)


def _same(job: Any, spec: JobSpec) -> bool:
    return (job.func_ref == spec.func and str(job.trigger) == str(spec.trigger)
            and tuple(job.args) == spec.args and job.name == spec.name)


def install_jobs(scheduler: BaseScheduler, specs: Sequence[JobSpec], grace_s: int) -> None:
    """Make the stored jobs match `specs`: unchanged jobs keep their next run time (and take the
    grace time `grace_s`), changed ones are replaced, jobs no longer wanted are removed.
    Call it on a started, paused scheduler so that nothing runs before the jobs are settled."""
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s (no longer configured)", job.id)
            job.remove()
    now = datetime.now(UTC)
    for spec in specs:
        existing = scheduler.get_job(spec.id)
        if existing is not None and _same(existing, spec):
            if existing.misfire_grace_time != grace_s:
                scheduler.modify_job(spec.id, misfire_grace_time=grace_s)
            continue
        options: dict[str, Any] = {}
        if spec.first_run_now and existing is None:
            options["next_run_time"] = now + timedelta(seconds=1)
        scheduler.add_job(spec.func, spec.trigger, args=spec.args, id=spec.id, name=spec.name,
                          replace_existing=True, **options)
