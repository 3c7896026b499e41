"""The model registry: versioned artifacts on disk, their records, and the promotion gate.

Layout: `ARTIFACTS/models/<kind>/<target>/v0001/` holds whatever the trainer writes (weights,
vocabulary, config, metrics) and its manifest. A folder is staged, published to the artifact store
(`storage.artifact_store`: nothing to do for the local one, an upload for S3) and renamed into
place, and its record (with the manifest's checksum) is committed only after that, so a crash or
kill leaves the serving version as it was. Promotion is one transaction; every machine reads the
serving version from the database when asked and gets a verified local copy (`local_path`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ModelError, NoServingModel
from storage.artifact_store import ArtifactError, ArtifactStore, store_for, write_manifest
from storage.artifacts import staged_dir
from storage.base import utcnow
from storage.registry import ModelVersion, RunStatus, TrainingRun, VersionStatus, version_key

CURVE_EVERY_S = 10.0  # unforced learning-curve points of one run at most this often
CURVE_POINTS = 400  # a longer curve keeps every other point (the newest always)
T = TypeVar("T")


@dataclass
class RunRecord:
    """A training run in progress: its id, and the metrics to store when it succeeds."""

    id: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training run of any model kind made: the version, the gate's verdict, its
    metrics, and where it started (a checkpoint's step, a version's weights, or neither)."""

    version: int
    verdict: Verdict
    metrics: dict[str, Any]
    resumed_from_step: int | None
    finetuned_from: int | None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@dataclass(frozen=True)
class LocalVersion:
    """A version's number and the verified folder holding it on this machine."""

    version: int
    folder: Path


@dataclass(frozen=True)
class Verdict:
    """What the promotion gate decided, and why (shown to users and logged)."""

    promoted: bool
    reason: str


class Registry:
    """Model versions of every kind, written under `artifacts_dir/models` and published to
    `store` (default: the store opened for `artifacts_dir`, `storage.artifact_store.store_for`)."""

    def __init__(self, sessions: sessionmaker[Session], artifacts_dir: Path,
                 store: ArtifactStore | None = None) -> None:
        self.sessions = sessions
        self.artifacts_dir = artifacts_dir
        self.store = store or store_for(artifacts_dir)
        self._curve_at: dict[int, float] = {}  # run id -> when this process stored its last point

    # -- training runs -----------------------------------------------------------------------

    def start_run(self, kind: str, target: str, run_id: int | None = None) -> int:
        """Record this process's training run as running: the requested run `run_id` (one
        request, one row) or a new one; returns its id."""
        with self.sessions.begin() as session:
            run = session.get(TrainingRun, run_id) if run_id is not None else None
            if run_id is not None and (run is None or (run.kind, run.target) != (kind, target)):
                raise ModelError(f"training run {run_id} is not a {kind} run on '{target}'")
            if run is None:
                run = TrainingRun(kind=kind, target=target, metrics={})
                session.add(run)
            run.status, run.pid = RunStatus.RUNNING, os.getpid()
            session.flush()
            return run.id

    def finish_run(
        self, run_id: int, status: RunStatus, metrics: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a training run ended."""
        with self.sessions.begin() as session:
            run = session.get_one(TrainingRun, run_id)
            run.status, run.finished_at, run.error = status, utcnow(), error
            run.metrics = {**run.metrics, **(metrics or {})}

    @contextmanager
    def training_run(self, kind: str, target: str, run_id: int | None = None) -> Iterator[RunRecord]:
        """One training run's record, for every model kind: running while the block runs,
        then succeeded with the metrics the block put in the record, or failed with the error
        that left it (an interruption says it can be resumed)."""
        record = RunRecord(self.start_run(kind, target, run_id))
        try:
            yield record
        except KeyboardInterrupt:
            self.finish_run(record.id, RunStatus.FAILED, error="interrupted; run again to resume")
            raise
        except BaseException as error:
            self.finish_run(record.id, RunStatus.FAILED, error=repr(error)[:500])
            raise
        self.finish_run(record.id, RunStatus.SUCCEEDED, record.metrics)

    def record_curve(self, run_id: int, step: int, fraction: float, values: dict[str, float], *,
                     force: bool = False) -> bool:
        """Append `{step, fraction, values, time}` to the learning curve of training run `run_id`
        (its `metrics["curve"]`); the dashboard draws it live while the run is running and, via
        `ModelVersion.training_run_id`, for the version the run made.

        Call it from a training loop as often as convenient (every progress report): a point
        within `CURVE_EVERY_S` of this registry's previous one for the run is dropped unless
        `force` (pass it at epoch ends and the last step). `values` are named floats ("bpc",
        "dev_bpc", "d_loss", ...; non-finite ones are left out): keep the names the same within
        a run, each becomes a line. `fraction` is the share of the budget spent (0-1), shown as
        the run's progress. Returns whether the point was stored.
        """
        now = time.monotonic()
        if not force and now - self._curve_at.get(run_id, -math.inf) < CURVE_EVERY_S:
            return False
        self._curve_at[run_id] = now
        point = {"step": int(step), "fraction": round(min(max(float(fraction), 0.0), 1.0), 4),
                 "values": {name: float(v) for name, v in values.items() if math.isfinite(v)},
                 "time": utcnow().isoformat()}
        with self.sessions.begin() as session:
            run = session.get_one(TrainingRun, run_id)
            curve = [*run.metrics.get("curve", []), point]
            if len(curve) > CURVE_POINTS:
                curve = curve[-2::-2][::-1] + [point]
            run.metrics = {**run.metrics, "curve": curve}
        return True

    def curve_recorder(self, run_id: int) -> Callable[[int, float, dict[str, float], bool], None]:
        """`record_curve` for run `run_id`, as a training loop's callback takes it:
        `(step, fraction, values, force)`."""
        return lambda step, fraction, values, force: self.record_curve(
            run_id, step, fraction, values, force=force)

    def fail_dead_runs(self) -> int:
        """Mark failed the running runs whose training process (on this machine) is gone, as
        after a kill -9; returns how many. A row left running would block the next request."""
        with self.sessions.begin() as session:
            running = session.scalars(
                select(TrainingRun).where(TrainingRun.status == RunStatus.RUNNING)
            ).all()
            dead = [run for run in running if run.pid is not None and not _alive(run.pid)]
            for run in dead:
                run.status, run.finished_at = RunStatus.FAILED, utcnow()
                run.error = f"the training process ({run.pid}) ended without finishing"
            return len(dead)

    # -- versions ----------------------------------------------------------------------------

    def save_version(
        self,
        kind: str,
        target: str,
        write: Callable[[Path], None],
        metrics: dict[str, Any],
        config: dict[str, Any] | None = None,
        *,
        training_run_id: int | None = None,
        persona_id: int | None = None,
        image_set_id: int | None = None,
    ) -> ModelVersion:
        """Write a new candidate version: `write(folder)` fills a staging folder, which gets
        `metrics.json` and its manifest, is published to the store and renamed into place; the
        record, with the manifest's checksum, is committed last. A number whose folder or key a
        crashed save left behind is skipped (versions are written once)."""
        with self.sessions() as session:
            number = 1 + (session.scalar(select(func.max(ModelVersion.version)).where(
                ModelVersion.kind == kind, ModelVersion.target == target)) or 0)
        key = version_key(kind, target, number)
        while (self.artifacts_dir / key).exists() or self._stored(self.store.taken, key):
            number += 1
            key = version_key(kind, target, number)
        with staged_dir(self.artifacts_dir / key) as staging:
            write(staging)
            (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
            checksum = write_manifest(staging)
            self._stored(self.store.put, key, staging)
        version = ModelVersion(
            kind=kind, target=target, version=number, metrics=metrics, config=config or {},
            artifact_path=str(self.artifacts_dir / key), checksum=checksum,
            training_run_id=training_run_id, persona_id=persona_id, image_set_id=image_set_id,
        )
        with self.sessions.begin() as session:
            session.add(version)
        return version

    def local_path(self, version: ModelVersion) -> Path:
        """A folder on this machine holding `version`, verified against its checksum: the one
        it was written to, or a copy fetched once from the store; a `ModelError` when the store
        does not have it whole."""
        return self._stored(self.store.local_folder, version.key, version.checksum,
                            Path(version.artifact_path))

    @staticmethod
    def _stored(call: Callable[..., T], *args: Any) -> T:
        """`call(*args)`, with the store's errors as `ModelError`s (one line, fit for a user)."""
        try:
            return call(*args)
        except ArtifactError as error:
            raise ModelError(str(error)) from None

    def serving(self, kind: str, target: str) -> ModelVersion | None:
        """The version generation uses, or None before the first promotion."""
        with self.sessions() as session:
            return session.scalar(_serving(kind, target))

    def serving_path(self, kind: str, target: str) -> Path:
        """Verified local folder of the serving version (`local_path`); raises `NoServingModel`
        when there is none."""
        version = self.serving(kind, target)
        if version is None:
            raise NoServingModel(f"no serving {kind} model for '{target}' yet: train one first")
        return self.local_path(version)

    def serving_local(self, kind: str, target: str) -> LocalVersion | None:
        """The serving version with its verified local folder (to fine-tune), or None."""
        version = self.serving(kind, target)
        return None if version is None else LocalVersion(version.version, self.local_path(version))

    def serving_versions(self, kind: str) -> list[ModelVersion]:
        """The serving versions of `kind` (one per target), newest first."""
        query = (
            select(ModelVersion)
            .where(ModelVersion.kind == kind, ModelVersion.status == VersionStatus.SERVING)
            .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        )
        with self.sessions() as session:
            return list(session.scalars(query))

    def versions(self, kind: str | None = None) -> list[ModelVersion]:
        """Every version, newest first, optionally of one kind."""
        query = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        if kind:
            query = query.where(ModelVersion.kind == kind)
        with self.sessions() as session:
            return list(session.scalars(query))

    def promote_if_better(
        self,
        version_id: int,
        metric: str,
        *,
        lower_is_better: bool = True,
        veto: str | None = None,
    ) -> Verdict:
        """Promote a candidate if its `metric` is no worse than the serving version's; the
        verdict's reason is kept in its metrics as "gate".

        `veto` (for example "mode collapse") rejects the candidate whatever its metric.
        """
        with self.sessions.begin() as session:
            candidate = session.get_one(ModelVersion, version_id)
            current = session.scalar(_serving(candidate.kind, candidate.target))
            value = candidate.metrics.get(metric)
            if veto:
                verdict = Verdict(False, f"rejected: {veto}")
            elif value is None:
                verdict = Verdict(False, f"rejected: no '{metric}' metric")
            elif current is None:
                verdict = Verdict(True, f"promoted: first version ({metric} {value:.4g})")
            else:
                served = current.metrics[metric]
                better = value <= served if lower_is_better else value >= served
                verdict = Verdict(
                    better,
                    f"{'promoted' if better else 'rejected'}: {metric} {value:.4g} "
                    f"vs serving v{current.version} {served:.4g}",
                )
            _apply(session, candidate, current, verdict)
            return verdict

    def decide(self, version_id: int, verdict: Verdict) -> Verdict:
        """Apply a verdict the caller's own gate reached (a review model is judged on decisions
        neither it nor the serving one learned from): promote the candidate, or reject it."""
        with self.sessions.begin() as session:
            candidate = session.get_one(ModelVersion, version_id)
            _apply(session, candidate, session.scalar(_serving(candidate.kind, candidate.target)),
                   verdict)
        return verdict

    def retire(self, kind: str, target: str) -> ModelVersion | None:
        """Stop serving `target`'s `kind` model (nothing serves it until a promotion); the
        version retired, or None when none served."""
        with self.sessions.begin() as session:
            current = session.scalar(_serving(kind, target))
            if current is not None:
                current.status = VersionStatus.RETIRED
            return current



def _serving(kind: str, target: str) -> Select[tuple[ModelVersion]]:
    return select(ModelVersion).where(ModelVersion.kind == kind, ModelVersion.target == target,
                                      ModelVersion.status == VersionStatus.SERVING)


def _apply(session: Session, candidate: ModelVersion, current: ModelVersion | None,
           verdict: Verdict) -> None:
    """Record the gate's verdict on `candidate` (its reason kept in its metrics as "gate"): it
    serves in place of `current`, or is rejected."""
    candidate.metrics = {**candidate.metrics, "gate": verdict.reason}  # shown with it
    if verdict.promoted:
        if current is not None:
            current.status = VersionStatus.RETIRED
            session.flush()
        candidate.status, candidate.promoted_at = VersionStatus.SERVING, utcnow()
    else:
        candidate.status = VersionStatus.REJECTED
