"""The persistent scheduler: fixed job ids, restarts keep jobs, missed runs run once on restart,
and a run that does not finish makes its job overdue."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from service_harness import wait_for

from bot.app import App, open_app
from bot.config import Settings
from bot.scheduler import (
    JOBS_TABLE, JobSpec, build_scheduler, install_jobs, job_specs, problems, running_jobs,
    wait_for_jobs,
)

RUNS: list[datetime] = []
RAN = threading.Event()
RELEASE = threading.Event()


def record() -> None:
    RUNS.append(datetime.now(UTC))
    RAN.set()


def record_and_hang() -> None:
    record()
    RELEASE.wait()


SPEC = JobSpec("record", "test_scheduler:record", IntervalTrigger(minutes=10, timezone=UTC), "record")


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    RUNS.clear()
    RAN.clear()
    RELEASE.clear()


def started(app: App, specs: list[JobSpec]) -> BackgroundScheduler:
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    install_jobs(scheduler, specs, app.settings.misfire_grace_seconds)
    return scheduler


def test_restart_keeps_jobs_and_their_next_run(app: App) -> None:
    first = started(app, [SPEC])
    planned = first.get_job("record").next_run_time
    first.shutdown()

    second = started(app, [SPEC])
    assert [job.id for job in second.get_jobs()] == ["record"]  # no duplicate
    assert second.get_job("record").next_run_time == planned
    second.shutdown()


def test_changed_and_removed_jobs_are_updated(app: App) -> None:
    other = JobSpec("other", "test_scheduler:record", IntervalTrigger(minutes=5, timezone=UTC), "other")
    started(app, [SPEC, other]).shutdown()
    changed = JobSpec("record", SPEC.func, IntervalTrigger(minutes=1, timezone=UTC), "record")
    scheduler = started(app, [changed])
    assert [job.id for job in scheduler.get_jobs()] == ["record"]
    assert str(scheduler.get_job("record").trigger) == str(changed.trigger)
    scheduler.shutdown()


def _miss_four_runs(app: App) -> None:
    """Run the scheduler once, then pretend it was down for 35 minutes of a 10-minute interval:
    the stored next run lies 35 minutes in the past (four runs missed)."""
    started(app, [SPEC]).shutdown()
    store = SQLAlchemyJobStore(engine=app.engine, tablename=JOBS_TABLE)
    store.start(BackgroundScheduler(), "default")
    job = store.lookup_job("record")
    job.next_run_time = datetime.now(UTC) - timedelta(minutes=35)
    store.update_job(job)


def test_run_missed_during_downtime_runs_once_on_restart(app: App) -> None:
    _miss_four_runs(app)
    scheduler = started(app, [SPEC])
    scheduler.resume()
    assert RAN.wait(10)
    RAN.clear()
    assert not RAN.wait(1.0)  # coalesced: one run, not four
    assert len(RUNS) == 1
    assert scheduler.get_job("record").next_run_time > datetime.now(UTC)
    scheduler.shutdown()


def test_run_missed_beyond_grace_time_is_skipped(app: App) -> None:
    _miss_four_runs(app)
    strict = open_app(app.settings.model_copy(update={"misfire_grace_seconds": 60}))
    scheduler = started(strict, [SPEC])
    scheduler.resume()
    assert not RAN.wait(1.5)
    scheduler.shutdown()
    strict.engine.dispose()


def test_a_run_that_does_not_finish_is_overdue_after_its_interval_and_margin(app: App) -> None:
    hangs = JobSpec("hangs", "test_scheduler:record_and_hang",
                    IntervalTrigger(minutes=10, timezone=UTC), "hangs", first_run_now=True)
    scheduler = started(app, [hangs])
    scheduler.resume()
    try:
        wait_for(lambda: running_jobs(scheduler) == {"hangs"}, timeout=10)
        assert problems(scheduler) == []
        # allowed: its interval plus max(30 s, interval), 20 minutes from its time
        assert problems(scheduler, now=RUNS[0] + timedelta(minutes=19)) == []
        late = problems(scheduler, now=RUNS[0] + timedelta(minutes=21))
        assert len(late) == 1 and late[0].startswith("job hangs is overdue: its run due at ")
    finally:
        RELEASE.set()
    assert wait_for_jobs(scheduler, 10) == set()
    assert problems(scheduler, now=RUNS[0] + timedelta(minutes=21)) == []  # it finished
    scheduler.shutdown()


def test_a_training_that_outlasts_its_jobs_interval_is_not_overdue(app: App) -> None:
    # /train runs a training of minutes from a job every minute; the child has its own limit.
    trains = next(spec for spec in job_specs(app.settings) if spec.id == "train-requests")
    hangs = JobSpec(trains.id, "test_scheduler:record_and_hang", trains.trigger, trains.name,
                    first_run_now=True, watched=trains.watched)
    scheduler = started(app, [hangs])
    scheduler.resume()
    try:
        wait_for(lambda: running_jobs(scheduler) == {"train-requests"}, timeout=10)
        assert problems(scheduler, now=RUNS[0] + timedelta(hours=1)) == []
    finally:
        RELEASE.set()
    scheduler.shutdown()


def test_job_specs_follow_settings() -> None:
    plain = {spec.id for spec in job_specs(Settings(campaign_cron="0 9 * * *; 30 17 * * 1-5"))}
    assert plain == {"outbox", "train-text", "train-gan", "train-requests", "train-review",
                     "campaign-1", "campaign-2"}
    review = next(spec for spec in job_specs(Settings(review_train_every_minutes=45))
                  if spec.id == "train-review")
    # a fraction of a second: with the job queue it goes to any worker, not the training one
    assert review.trigger.interval == timedelta(minutes=45) and review.queue == "default"
    collecting = Settings(x_bearer_token="t", collect_query="#siggraphNOW")
    assert "collect" in {spec.id for spec in job_specs(collecting)}
