"""The promotion gate and atomic versions, on every storage backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.app import App
from models.errors import NoServingModel
from models.registry import Registry
from storage.registry import RunStatus, VersionStatus


def _write(text: str):
    return lambda folder: (folder / "weights.txt").write_text(text)


def test_gate_promotes_only_no_worse(app: App) -> None:
    registry = Registry(app.sessions, app.artifacts_dir)
    with pytest.raises(NoServingModel):
        registry.serving_path("text", "ada")
    first = registry.save_version("text", "ada", _write("1"), {"bpc": 2.0})
    assert registry.promote_if_better(first.id, "bpc").promoted
    worse = registry.save_version("text", "ada", _write("2"), {"bpc": 2.5})
    verdict = registry.promote_if_better(worse.id, "bpc")
    assert not verdict.promoted and "2.5" in verdict.reason
    assert (registry.serving_path("text", "ada") / "weights.txt").read_text() == "1"
    equal = registry.save_version("text", "ada", _write("3"), {"bpc": 2.0})
    assert registry.promote_if_better(equal.id, "bpc").promoted
    statuses = {v.version: v.status for v in registry.versions("text")}
    assert statuses == {
        1: VersionStatus.RETIRED, 2: VersionStatus.REJECTED, 3: VersionStatus.SERVING,
    }


def test_veto_rejects_even_a_better_metric(app: App) -> None:
    registry = Registry(app.sessions, app.artifacts_dir)
    version = registry.save_version("gan", "digits", _write("g"), {"fid": 1.0})
    verdict = registry.promote_if_better(version.id, "fid", veto="mode collapse")
    assert not verdict.promoted and "mode collapse" in verdict.reason
    assert registry.serving("gan", "digits") is None


def test_crash_while_writing_leaves_no_version(app: App) -> None:
    registry = Registry(app.sessions, app.artifacts_dir)

    def crash(folder: Path) -> None:
        (folder / "weights.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        registry.save_version("text", "ada", crash, {"bpc": 1.0})
    assert registry.versions() == []
    assert not (app.artifacts_dir / "models" / "text" / "ada" / "v0001").exists()


def test_runs_are_recorded(app: App) -> None:
    registry = Registry(app.sessions, app.artifacts_dir)
    run_id = registry.start_run("text", "ada")
    registry.finish_run(run_id, RunStatus.FAILED, error="killed")
    with pytest.raises(ValueError), registry.training_run("text", "ada") as failing:
        raise ValueError("out of tweets")
    with registry.training_run("text", "ada", run_id=run_id) as again:  # the same row again
        again.metrics = {"bpc": 2.0}
    with app.sessions() as session:
        from storage.registry import TrainingRun

        run, failed = session.get_one(TrainingRun, run_id), session.get_one(TrainingRun, failing.id)
        assert (run.status, run.pid, run.metrics) == (RunStatus.SUCCEEDED, os.getpid(), {"bpc": 2.0})
        assert failed.status == RunStatus.FAILED and "out of tweets" in (failed.error or "")
