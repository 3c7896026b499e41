"""Processes for the job queue's tests (PostgreSQL), each as `nowbot run` / `nowbot worker` run it:

    python tests/queue_harness.py scheduler DATABASE_URL DATA_DIR campaign|outbox
    python tests/queue_harness.py worker DATABASE_URL DATA_DIR [QUEUES]

The scheduler is the real service (`bot.service.serve`: leader lock, APScheduler, the queue's
executor and upkeep) firing one job every second: `campaign` (a campaign post per slot) or
`outbox` (publishing rounds). A worker runs `bot.queue.worker.work` with the stand-in generator
and the platforms its environment configures. Both take NOWBOT_* settings from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.scheduler import JobSpec, job_specs

JOBS = {"campaign": ("campaign-1", "bot.jobs:campaign_post"),
        "outbox": ("outbox", "bot.jobs:process_outbox")}


def start(role: str, settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """This file as a `role` process on `settings`' database and data folder."""
    here = Path(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parents[1]), str(here.parent)]),
           "NOWBOT_JOB_QUEUE": "postgresql",
           "NOWBOT_QUEUE_STALL_SECONDS": str(settings.queue_stall_seconds),
           "NOWBOT_PUBLISH_DEADLINE_SECONDS": str(settings.publish_deadline_seconds)}
    return subprocess.Popen([sys.executable, str(here), role, settings.resolved_database_url,
                             str(settings.data_dir), *args], env=env)


def specs(settings: Settings, job: str) -> list[JobSpec]:
    """`job` every second, and the queue's upkeep."""
    job_id, func = JOBS[job]
    every_second = JobSpec(job_id, func, IntervalTrigger(seconds=1, timezone=UTC), job,
                           first_run_now=True, coalesced=job != "campaign")
    return [every_second, *(spec for spec in job_specs(settings) if spec.queue is None)]


if __name__ == "__main__":
    from service_harness import StubGenerator

    from bot.app import open_app
    from bot.logs import setup_logging
    from bot.queue.worker import work
    from bot.service import run_until_signalled, serve

    role, url, data_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    opened = open_app(Settings(database_url=url, data_dir=data_dir, dashboard_port=0))
    setup_logging(settings=opened.settings)
    if role == "scheduler":
        run_until_signalled(lambda stop: serve(
            opened, StubGenerator(), stop=stop, publishers={}, adapters=[],
            specs=specs(opened.settings, sys.argv[4]), seed=False, leader_poll_s=0.2))
    else:
        queues = tuple((sys.argv[4] if len(sys.argv) > 4 else "default").split(","))
        run_until_signalled(lambda stop: work(opened, stop, queues=queues, concurrency=2,
                                              generator=StubGenerator()))
