"""Training asked for by a person (`/train`): the request, taking it, and how it ended.

A request is one `TrainingRun` row from start to end: the chat command records it as
requested, the service's `train-requests` job takes it, and the training child records its
progress and outcome in the same row (`nowbot train ... --run-id`). Training never runs in a
chat adapter's process. A run whose process died is marked failed when the service next looks.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.errors import NowbotError
from models.registry import Registry
from storage.base import utcnow
from storage.registry import RunStatus, TrainingRun

log = logging.getLogger("nowbot.training")
REQUEST_EXPIRES = timedelta(hours=1)  # an older request or run no longer blocks a new one


class TrainingBusy(NowbotError):
    """A training of the same model is already asked for or running."""


def request_training(app: App, kind: str, target: str, requested_by: str) -> int:
    """Record that `requested_by` asked for a `kind` training on `target`; returns the run id.
    `kind` and `target` must have been checked by the caller."""
    Registry(app.sessions, app.artifacts_dir).fail_dead_runs()  # a killed run blocks nothing
    with app.sessions.begin() as session:
        pending = session.scalar(
            select(TrainingRun).where(
                TrainingRun.kind == kind, TrainingRun.target == target,
                TrainingRun.status.in_([RunStatus.RUNNING, RunStatus.REQUESTED]),
                TrainingRun.created_at > utcnow() - REQUEST_EXPIRES,
            )
        )
        if pending is not None:
            raise TrainingBusy(f"{kind} training for '{target}' is already {pending.status}")
        run = TrainingRun(kind=kind, target=target, status=RunStatus.REQUESTED,
                          metrics={"requested_by": requested_by})
        session.add(run)
        session.flush()
        run_id = run.id
    log.info("training run %s (%s %s) requested by %s", run_id, kind, target, requested_by)
    return run_id


def active_runs(app: App) -> list[TrainingRun]:
    """Runs asked for or running now (a run whose process died is marked failed first)."""
    Registry(app.sessions, app.artifacts_dir).fail_dead_runs()
    with app.sessions() as session:
        return list(session.scalars(
            select(TrainingRun).where(
                TrainingRun.status.in_([RunStatus.RUNNING, RunStatus.REQUESTED]))
            .order_by(TrainingRun.id)
        ))


def expire_requests(app: App) -> int:
    """Mark requests older than `REQUEST_EXPIRES` that never started failed; returns how many."""
    now = utcnow()
    minutes = REQUEST_EXPIRES.total_seconds() / 60
    with app.sessions.begin() as session:
        result = session.execute(
            update(TrainingRun)
            .where(TrainingRun.status == RunStatus.REQUESTED,
                   TrainingRun.created_at <= now - REQUEST_EXPIRES)
            .values(status=RunStatus.FAILED, finished_at=now,
                    error=f"request expired: not started within {minutes:.0f} minutes")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def take_request(app: App) -> tuple[int, str, str] | None:
    """Mark the oldest request running and return (run id, kind, target); None when none is
    waiting. The status is changed only if it is still requested, so a request is taken once."""
    with app.sessions.begin() as session:
        oldest = session.execute(
            select(TrainingRun.id, TrainingRun.kind, TrainingRun.target)
            .where(TrainingRun.status == RunStatus.REQUESTED)
            .order_by(TrainingRun.created_at, TrainingRun.id).limit(1)
        ).first()
        if oldest is None:
            return None
        taken = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == oldest.id, TrainingRun.status == RunStatus.REQUESTED)
            .values(status=RunStatus.RUNNING)
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            return None
    return oldest.id, oldest.kind, oldest.target or ""


def finish_request(app: App, run_id: int, status: RunStatus, error: str | None = None) -> None:
    """Record that a requested run's child ended without finishing it (failed: the error the
    child stored is kept) or put it back as requested."""
    with app.sessions.begin() as session:
        run = session.get_one(TrainingRun, run_id)
        if status == RunStatus.FAILED and run.status == RunStatus.FAILED:
            return
        run.status, run.error, run.pid = status, error, None
        run.finished_at = None if status == RunStatus.REQUESTED else utcnow()
