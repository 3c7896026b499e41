"""The job scheduler: APScheduler 3 with its jobs stored in the app database.

Only the leader (see `bot.leader`) runs a scheduler: APScheduler 3 must never share a job store
between two running schedulers. Jobs have fixed ids, and `install_jobs` keeps an unchanged job's
stored next run time, so a run missed while the bot was down still happens on restart (once,
coalesced) when it is within `misfire_grace_time`; APScheduler's default grace is one second.

A scheduler knows when it is sick (`problems`): its thread died, or a watched job's run is overdue
(not finished `interval + max(OVERDUE_MARGIN, interval)` after its time: hung, or every later run
skipped because it still runs). Runs are followed through the scheduler's events.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.config import Settings

log = logging.getLogger("nowbot.scheduler")
JOBS_TABLE = "apscheduler_jobs"
SchedulerT = TypeVar("SchedulerT", bound=BaseScheduler)
OVERDUE_MARGIN = timedelta(seconds=30)
JOB_THREADS = "nowbot-job"  # the name of the threads jobs run in
TRAINING_QUEUE = "training"  # the job queue's queue for training (a worker of its own)
QUEUED = "queue"  # the executor that queues runs


class WatchedScheduler(BackgroundScheduler):
    """A BackgroundScheduler that keeps the error that ended its thread.

    APScheduler 3 runs `_process_jobs`, with its job store writes, outside any try: a write that
    fails (a full disk) ends the scheduler's thread while `running` still says True. Overriding
    the private `_main_loop` (APScheduler 3.11) is the one place to see it. The error is kept for
    `problems` (the leader says it in one line) and its traceback goes to the log file only (an
    APScheduler line below warning), not printed by the dying thread."""

    death: Exception | None = None

    def _main_loop(self) -> None:
        try:
            super()._main_loop()
        except Exception as error:  # noqa: BLE001  (the thread ends; the leader gives up)
            self.death = error  # first: logging itself may fail (a full disk)
            self._logger.info("the scheduler thread ended", exc_info=error)


@dataclass
class _Runs:
    """A scheduler's runs as its events tell them: per job, the scheduled times of the runs
    submitted and not finished yet (a count per time: an event from a fast run's thread may come
    before the submission's), and each job's trigger and the jobs not watched (`install_jobs`)."""

    changed: threading.Condition = field(default_factory=threading.Condition)
    open: defaultdict[str, Counter[datetime]] = field(default_factory=lambda: defaultdict(Counter))
    triggers: dict[str, BaseTrigger] = field(default_factory=dict)
    unwatched: set[str] = field(default_factory=set)

    def running(self) -> dict[str, datetime]:
        """Each running job's oldest open run time."""
        return {job_id: min(t for t, n in times.items() if n > 0)
                for job_id, times in self.open.items() if any(n > 0 for n in times.values())}


_RUNS: weakref.WeakKeyDictionary[BaseScheduler, _Runs] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: `func` is a `module:function` reference (jobs are pickled by name)."""

    id: str
    func: str
    trigger: BaseTrigger
    name: str
    args: tuple[Any, ...] = ()
    first_run_now: bool = field(default=False)  # a new job runs at once, then on its trigger
    # False: never overdue. For jobs that run training or collection children: those stop at
    # their own time limit (`bot.core.children`), and a training waits for the one running.
    watched: bool = True
    # With the job queue (`NOWBOT_JOB_QUEUE=postgresql`), the queue its runs go to; None: the
    # job runs in the scheduler's process (the queue's upkeep).
    queue: str | None = "default"
    # With the job queue: at most one run waits in it (a slow worker catches up once); False:
    # every slot runs, once each (campaign posts).
    coalesced: bool = True


def job_specs(settings: Settings) -> list[JobSpec]:
    """The service's jobs for these settings."""
    specs = [
        JobSpec("outbox", "bot.jobs:process_outbox",
                IntervalTrigger(seconds=settings.outbox_interval_seconds, timezone=UTC),
                "publish approved posts, reconcile unknown ones", first_run_now=True),
        JobSpec("train-text", "bot.jobs:train_text",
                IntervalTrigger(minutes=settings.train_text_every_minutes, timezone=UTC),
                f"retrain the text model of {settings.campaign_persona}", first_run_now=True,
                watched=False, queue=TRAINING_QUEUE),
        JobSpec("train-gan", "bot.jobs:train_gan",
                IntervalTrigger(minutes=settings.train_gan_every_minutes, timezone=UTC),
                "train the GAN a batch and draw a new image batch", first_run_now=True,
                watched=False, queue=TRAINING_QUEUE),
        JobSpec("train-requests", "bot.jobs:train_requested",
                IntervalTrigger(seconds=settings.outbox_interval_seconds, timezone=UTC),
                "run training asked for from chat (/train)", first_run_now=True, watched=False,
                queue=TRAINING_QUEUE),
        # A fraction of a second in this process (or a default-queue worker): no child, no
        # wait for the training lock.
        JobSpec("train-review", "bot.jobs:train_review_model",
                IntervalTrigger(minutes=settings.review_train_every_minutes, timezone=UTC),
                f"retrain the review model of {settings.campaign_persona} from its reviewers' "
                "decisions"),
    ]
    for number, expression in enumerate(settings.campaign_crons, start=1):
        specs.append(JobSpec(f"campaign-{number}", "bot.jobs:campaign_post",
                             CronTrigger.from_crontab(expression, timezone=UTC),
                             f"prepare a campaign post ({expression})", coalesced=False))
    if settings.x_read_configured and settings.collect_query:
        specs.append(JobSpec("collect", "bot.jobs:collect",
                             IntervalTrigger(minutes=settings.collect_every_minutes, timezone=UTC),
                             f"collect '{settings.collect_query}' from X", first_run_now=True,
                             watched=False))
    if settings.job_queue == "postgresql":
        specs.append(JobSpec("queue-upkeep", "bot.queue.upkeep:upkeep",
                             IntervalTrigger(seconds=max(1, settings.queue_stall_seconds // 2),
                                             timezone=UTC),
                             "run jobs again whose worker died; prune finished ones", queue=None))
    return specs


def build_scheduler(app: App, scheduler_class: type[SchedulerT],
                    specs: Sequence[JobSpec] = ()) -> SchedulerT:
    """A scheduler (not started) storing its jobs in the app database, with deliberate defaults;
    with the job queue, `specs`' queued jobs go to the queue's executor ("queue"), each to its
    spec's queue."""
    executors: dict[str, Any] = {"default": ThreadPoolExecutor(
        max_workers=4, pool_kwargs={"thread_name_prefix": JOB_THREADS})}
    if app.settings.job_queue == "postgresql":
        from bot.queue.dispatch import QueueExecutor

        executors[QUEUED] = QueueExecutor(app, [spec for spec in specs if spec.queue is not None])
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=app.engine, tablename=JOBS_TABLE)},
        executors=executors,
        job_defaults={
            "coalesce": True,  # many missed runs become one
            "misfire_grace_time": app.settings.misfire_grace_seconds,
            "max_instances": 1,
        },
        timezone=UTC,
    )
    scheduler.add_listener(_log_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    runs = _RUNS[scheduler] = _Runs()
    # A run skipped because the job still runs (EVENT_JOB_MAX_INSTANCES) needs no tracking: the
    # running one's older time is what makes the job overdue.
    scheduler.add_listener(partial(_track, runs), EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                           | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def _track(runs: _Runs, event: JobEvent) -> None:
    if event.code == EVENT_JOB_SUBMITTED:
        times, change = event.scheduled_run_times, 1
    else:  # executed, failed or missed (past its grace time): that run is over
        times, change = [event.scheduled_run_time], -1
    with runs.changed:
        counts = runs.open[event.job_id]
        for moment in times:
            counts[moment] += change
            if counts[moment] == 0:
                del counts[moment]
        runs.changed.notify_all()


def running_jobs(scheduler: BaseScheduler) -> set[str]:
    """Ids of `scheduler`'s jobs running now (from its events; `build_scheduler`'s only)."""
    runs = _RUNS.get(scheduler, _Runs())
    with runs.changed:
        return set(runs.running())


def wait_for_jobs(scheduler: BaseScheduler, timeout_s: float) -> set[str]:
    """Wait up to `timeout_s` seconds for `scheduler`'s running jobs to end; returns the ids of
    those still running."""
    runs = _RUNS.get(scheduler, _Runs())
    with runs.changed:
        runs.changed.wait_for(lambda: not runs.running(), timeout_s)
        return set(runs.running())


def problems(scheduler: BaseScheduler, now: datetime | None = None) -> list[str]:
    """What makes `scheduler` sick, one line each: its thread died (a `WatchedScheduler`), or a
    watched job's run has not finished `interval + max(OVERDUE_MARGIN, interval)` after its time."""
    found = []
    if isinstance(scheduler, WatchedScheduler) and scheduler.death is not None:
        found.append(f"the scheduler thread died ({describe_error(scheduler.death)})")
    runs = _RUNS.get(scheduler, _Runs())
    with runs.changed:
        watched = {job: due for job, due in runs.running().items() if job not in runs.unwatched}
        triggers = dict(runs.triggers)
    now = now or datetime.now(UTC)
    for job_id, due in sorted(watched.items()):
        interval = _interval(triggers.get(job_id), due)
        late = now - due
        if late > interval + max(OVERDUE_MARGIN, interval):
            found.append(f"job {job_id} is overdue: its run due at {due:%H:%M:%S} UTC has not "
                         f"finished after {late.total_seconds():.0f} s")
    return found


def _interval(trigger: BaseTrigger | None, due: datetime) -> timedelta:
    """The time from a run due at `due` to the trigger's next one (zero: no next run)."""
    if trigger is None:
        return timedelta(0)
    following = trigger.get_next_fire_time(due, due + timedelta(microseconds=1))
    return following - due if following is not None else timedelta(0)


def describe_error(error: BaseException) -> str:
    """`Type: message` in one line; a database error by its driver's message."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s (past the grace time)", event.job_id,
                    event.scheduled_run_time)
    else:
        log.error("job %s failed", event.job_id, exc_info=event.exception)


def _same(job: Any, spec: JobSpec, executor: str) -> bool:
    return (job.func_ref == spec.func and str(job.trigger) == str(spec.trigger)
            and tuple(job.args) == spec.args and job.name == spec.name
            and job.executor == executor)


def install_jobs(scheduler: BaseScheduler, specs: Sequence[JobSpec], grace_s: int, *,
                 queued: bool = False) -> None:
    """Make the stored jobs match `specs`: unchanged jobs keep their next run time (and take the
    grace time `grace_s`), changed ones are replaced, jobs no longer wanted are removed. With
    `queued` (a scheduler built for the job queue), jobs that name a queue are queued.
    Call it on a started, paused scheduler so that nothing runs before the jobs are settled."""
    wanted = {spec.id for spec in specs}
    runs = _RUNS.get(scheduler, _Runs())
    runs.triggers.update({spec.id: spec.trigger for spec in specs})
    runs.unwatched.update(spec.id for spec in specs if not spec.watched)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s (no longer configured)", job.id)
            job.remove()
    now = datetime.now(UTC)
    for spec in specs:
        existing = scheduler.get_job(spec.id)
        executor = QUEUED if queued and spec.queue is not None else "default"
        if existing is not None and _same(existing, spec, executor):
            if existing.misfire_grace_time != grace_s:
                scheduler.modify_job(spec.id, misfire_grace_time=grace_s)
            continue
        options: dict[str, Any] = {}
        if spec.first_run_now and existing is None:
            options["next_run_time"] = now + timedelta(seconds=1)
        scheduler.add_job(spec.func, spec.trigger, args=spec.args, id=spec.id, name=spec.name,
                          executor=executor, replace_existing=True, **options)
