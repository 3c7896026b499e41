"""The dashboard's models, images and jobs pages over HTTP: learning curves recorded by training
runs (throttled, thinned) and drawn as SVG, trainings running now with their progress, versions
in words with the gate's verdict and the personas they speak, image grids and progress GIFs
served only from version folders, jobs running now, and the last log lines masked."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import SecretStr

import models.registry as registry_module
from bot.app import App
from bot.core.runtime import Runtime
from bot.dashboard import create_dashboard
from bot.scheduler import build_scheduler
from models.gan.grids import gif_bytes, make_grid, save_png
from models.registry import Registry
from service_harness import StubGenerator
from storage.base import utcnow
from storage.imagesets import ImageSet
from storage.registry import RunStatus, TrainingRun


def _get(app: App, *paths: str, scheduler: Any = None) -> list[tuple[int, str | bytes]]:
    """(status, body) of each GET, text for pages and bytes for the rest."""
    runtime = Runtime(app=app, generator=StubGenerator(), publishers={}, scheduler=scheduler)

    async def main() -> list[tuple[int, str | bytes]]:
        async with TestClient(TestServer(create_dashboard(runtime))) as client:
            answers = []
            for path in paths:
                response = await client.get(path)
                binary = not response.content_type.startswith(("text/html", "image/svg"))
                answers.append((response.status, await (response.read() if binary else response.text())))
            return answers

    return asyncio.run(main())


def _page(app: App, path: str, **kwargs: Any) -> str:
    status, body = _get(app, path, **kwargs)[0]
    assert status == 200 and isinstance(body, str)
    return body


def test_record_curve_throttles_thins_and_survives_the_run_end(sqlite_app: App,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "CURVE_POINTS", 10)
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    with registry.training_run("text", "ada") as run:
        assert registry.record_curve(run.id, 1, 0.01, {"bpc": 5.0})
        assert not registry.record_curve(run.id, 2, 0.02, {"bpc": 4.9})  # within CURVE_EVERY_S
        for step in range(3, 15):
            assert registry.record_curve(run.id, step, step / 14, {"bpc": 5 - step / 10,
                                                                   "dev_bpc": float("nan")}, force=True)
        run.metrics = {"bpc": 3.6}
    with sqlite_app.sessions() as session:
        stored = session.get_one(TrainingRun, run.id)
    curve = stored.metrics["curve"]
    assert stored.status == RunStatus.SUCCEEDED and stored.metrics["bpc"] == 3.6
    assert len(curve) <= 10 and curve[-1]["step"] == 14 and curve[-1]["fraction"] == 1.0
    steps = [point["step"] for point in curve]
    assert steps == sorted(steps) and 2 not in steps
    assert all(set(point["values"]) == {"bpc"} for point in curve[1:])  # NaN left out


def test_running_training_shows_its_progress_and_live_curve(sqlite_app: App) -> None:
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    run_id = registry.start_run("text", "ada")  # this process: alive
    for step, bpc in ((10, 4.0), (20, 3.1)):
        registry.record_curve(run_id, step, step / 48, {"bpc": bpc, "dev_bpc": bpc + 0.2}, force=True)
    (_, page), (status, svg) = _get(sqlite_app, "/models", f"/charts/runs/{run_id}.svg")
    now = page.split('id="versions"')[0]
    assert "text model <strong>ada</strong>" in now and "42% of its budget" in now
    assert f'src="/charts/runs/{run_id}.svg?points=2"' in now and "3.100" in now
    assert status == 200 and isinstance(svg, str) and svg.startswith("<?xml")
    assert "bits per character (lower is better)" in svg and "held-out text" in svg
    assert 'data-refresh="15"' in page  # the page follows the training
    assert _get(sqlite_app, "/charts/runs/999.svg")[0][0] == 404


def test_versions_are_explained_with_the_gate_and_their_personas(sqlite_app: App) -> None:
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    metrics = {"bpc": 2.25, "gru_bpc": 2.5, "ngram_bpc": 3.0, "steps": 480, "epochs": 3.0,
               "train_tweets": 900, "train_seconds": 120.0, "chars_per_s": 25000.0, "finetuned_from": None}
    first = registry.save_version("text", "all", lambda folder: None, metrics, {"personas": ["ada", "bob"]})
    registry.promote_if_better(first.id, "bpc")
    worse = registry.save_version("text", "all", lambda folder: None, {**metrics, "bpc": 2.5},
                                  {"personas": ["ada", "bob"]})
    registry.promote_if_better(worse.id, "bpc")
    collapsed = registry.save_version("gan", "digits", lambda folder: None,
                                      {"fid": 12.5, "diversity": 0.2, "collapsed": True, "steps": 500})
    registry.promote_if_better(collapsed.id, "fid", veto="mode collapse")
    page = _page(sqlite_app, "/models")
    serving = page.split(f'id="version-{first.id}"')[1]
    assert "speaks as 2 personas: ada, bob" in serving
    assert "held-out bits per character" in serving and "<strong>2.250</strong>" in serving
    assert "lower is better" in serving and "gate:</span> promoted: first version (bpc 2.25)" in serving
    assert "480 steps, 3.00 passes over 900 posts, 2.0 min, 25,000 characters/s" in serving
    assert "no learning curve recorded for this version" in serving
    assert "rejected: bpc 2.5 vs serving v1 2.25" in page.split(f'id="version-{worse.id}"')[1]
    gan = page.split(f'id="version-{collapsed.id}"')[1]
    assert "0.20 of the real images&#39; (mode collapse: vetoed)" in gan and "rejected: mode collapse" in gan


def test_images_page_labels_grids_and_serves_only_version_files(sqlite_app: App, tmp_path: Path) -> None:
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)

    def write(folder: Path) -> None:
        for step in (0, 4, 8):
            save_png(make_grid(np.full((4, 8, 8, 1), 30 * step, dtype=np.uint8)),
                     folder / "frames" / f"step-{step:07d}.png")
        (folder / "progress.gif").write_bytes(gif_bytes(sorted((folder / "frames").glob("*.png"))))
        save_png(make_grid(np.full((4, 8, 8, 1), 200, dtype=np.uint8)), folder / "grid.png")

    with sqlite_app.sessions.begin() as session:
        session.add_all([ImageSet(name=name, source="test", width=8, height=8, channels=1)
                         for name in ("digits", "photos")])
    version = registry.save_version("gan", "digits", write, {"fid": 3.0, "steps": 8})
    registry.promote_if_better(version.id, "fid")
    answers = _get(sqlite_app, "/images", f"/versions/{version.id}/grid.png",
                   f"/versions/{version.id}/progress.gif", f"/versions/{version.id}/metrics.json",
                   "/versions/999/grid.png")
    (_, page), (grid, png), (gif, animation), (other, _), (missing, _) = answers
    digits, photos = page.split("image model (GAN) · photos")
    assert "digits v1, step 8" in digits and "3 grids of the same fixed seeds" in digits
    assert f'src="/versions/{version.id}/progress.gif"' in digits
    assert "No image model trained for photos yet" in photos and "<img" not in photos
    assert (grid, gif) == (200, 200) and png == (Path(version.artifact_path) / "grid.png").read_bytes()
    assert animation[:6] == b"GIF89a"
    assert (other, missing) == (404, 404)


def _blocking_job(started: threading.Event, release: threading.Event) -> None:
    started.set()
    release.wait(10)


def test_jobs_show_their_next_run_and_which_runs_now(sqlite_app: App) -> None:
    scheduler = build_scheduler(sqlite_app, BackgroundScheduler)
    scheduler.add_jobstore(MemoryJobStore(), "memory")
    started, release = threading.Event(), threading.Event()
    scheduler.add_job(_blocking_job, "interval", hours=1, id="outbox", name="publish approved posts",
                      jobstore="memory", args=(started, release), next_run_time=utcnow())
    scheduler.add_job(_blocking_job, "interval", hours=2, id="train-text", name="retrain the text model",
                      jobstore="memory", args=(threading.Event(), release))
    scheduler.start()
    try:
        assert started.wait(10)
        page = _page(sqlite_app, "/system", scheduler=scheduler)
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    running = {row.split("<code>")[1].split("</code>")[0]: "running</strong>" in row for row in rows}
    assert running == {"outbox": True, "train-text": False}
    assert "retrain the text model" in page and " UTC" in rows[1]
    assert "This process leads" in page


def test_last_log_lines_are_shown_masked(sqlite_app: App) -> None:
    import dataclasses

    secret = "s3cret-bearer-token-1234"
    app = dataclasses.replace(sqlite_app, settings=sqlite_app.settings.model_copy(
        update={"x_bearer_token": SecretStr(secret)}))
    logs = app.settings.data_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "service.log").write_text("".join(f"line {n}\n" for n in range(50)))
    (logs / "train-text.log").write_text(f"early\nrequest with Bearer {secret}\ntext siggraph v2 promoted\n")
    os.utime(logs / "service.log", (time.time() - 60, time.time() - 60))
    page = _page(app, "/system")
    assert secret not in page and "Bearer ***" in page
    assert page.index("train-text.log") < page.index("service.log")  # newest first
    assert "line 49" in page and "line 30" in page and "line 29\n" not in page  # the last 20
