"""`nowbot run` end to end in one process: demo seeding, campaign posts into the local outbox,
the dashboard showing them, and a restart that keeps jobs and posts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from apscheduler.triggers.interval import IntervalTrigger
from service_harness import StubGenerator, free_port
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot import commands, demo, jobs, service
from bot.app import App, open_app
from bot.config import Settings
from bot.core import training
from bot.core.children import run_cli, stop_children
from bot.core.runtime import Runtime
from bot.scheduler import JobSpec
from bot.leader import LeaderLock
from bot.service import serve
from models.registry import Registry
from storage.base import utcnow
from storage.corpus import Persona, Tweet
from storage.imagesets import ImageSet
from storage.outbox import Post, PostStatus
from storage.registry import RunStatus, TrainingRun
from text_corpus import store

SPECS = [
    JobSpec("campaign-1", "bot.jobs:campaign_post", IntervalTrigger(seconds=2, timezone=UTC),
            "prepare a campaign post", first_run_now=True),
    JobSpec("outbox", "bot.jobs:process_outbox", IntervalTrigger(seconds=1, timezone=UTC),
            "publish approved posts", first_run_now=True),
]


def published(app: App) -> list[Post]:
    with app.sessions() as session:
        return list(session.scalars(select(Post).where(Post.status == PostStatus.PUBLISHED)))


async def run_until(app: App, done: Any, timeout: float = 60.0) -> dict[str, Any]:
    """Serve until `done()` holds; returns the dashboard's published posts and jobs pages and
    /healthz at that moment."""
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, StubGenerator(), stop=stop, adapters=[], specs=SPECS,
                                        leader_poll_s=0.2))
    base = f"http://{app.settings.dashboard_host}:{app.settings.dashboard_port}"
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(done):
                assert not service.done(), service.exception()
                await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as client:
            async with client.get(base + "/published") as response:
                published_page = await response.text()
            async with client.get(base + "/system") as response:
                jobs_page = await response.text()
            async with client.get(base + "/healthz") as response:
                health = await response.json()
    finally:
        stop.set()
        await service
    return {"published": published_page, "jobs": jobs_page, "health": health}


@pytest.fixture
def service_app(app: App, monkeypatch: pytest.MonkeyPatch) -> App:
    """The service without review (posts go out at once), on a free dashboard port."""
    monkeypatch.setattr(demo, "DEMO_DIGITS", 40)  # keep seeding quick
    settings = app.settings.model_copy(update={"dashboard_port": free_port(), "review_mode": False})
    return App(settings=settings, engine=app.engine, sessions=app.sessions)


def test_fresh_start_seeds_demo_and_publishes_to_local_outbox(service_app: App) -> None:
    app = service_app
    seen = asyncio.run(run_until(app, lambda: len(published(app)) >= 1))

    with app.sessions() as session:
        persona = session.scalar(select(Persona).where(Persona.name == "siggraph"))
        assert persona is not None
        tweets = session.scalar(select(func.count(Tweet.id)).where(Tweet.persona_id == persona.id))
        assert tweets == len(demo.demo_posts()) >= 150
        assert session.scalar(select(ImageSet.name)) == "digits"
    post = published(app)[0]
    assert [d.platform for d in post.deliveries] == ["local"] and post.text.endswith("#siggraphNOW")
    record = json.loads((app.settings.data_dir / "outbox" / f"post-{post.id}.json").read_text())
    assert record["text"] == post.text
    assert record["alt"] == post.image_alt and "digits" in record["alt"]  # the image's description
    assert (app.settings.data_dir / "outbox" / record["image"]).is_file()  # the GAN's image
    assert post.text in seen["published"]
    assert seen["health"]["leader"] is True and seen["health"]["scheduler"] == "running"


def test_a_database_outage_is_waited_out_not_fatal(
    service_app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_acquire = LeaderLock.acquire
    outage = iter([True, True])  # the database refuses the first two looks

    def acquire(self: LeaderLock) -> bool:
        if next(outage, False):
            raise OperationalError("select pg_try_advisory_lock(1)", {}, ConnectionRefusedError())
        return real_acquire(self)

    monkeypatch.setattr(LeaderLock, "acquire", acquire)
    with caplog.at_level("WARNING", logger="nowbot.service"):
        asyncio.run(run_until(service_app, lambda: len(published(service_app)) >= 1))
    assert caplog.text.count("database unreachable (OperationalError)") == 2  # then it led



def test_a_database_outage_at_start_up_is_waited_out(
    service_app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_seed = service.seed_demo
    outage = iter([True])  # the database is down when the service starts

    def seed(app: App) -> None:
        if next(outage, False):
            raise OperationalError("select 1", {}, ConnectionRefusedError())
        real_seed(app)

    monkeypatch.setattr(service, "seed_demo", seed)
    with caplog.at_level("WARNING", logger="nowbot.service"):
        asyncio.run(run_until(service_app, lambda: len(published(service_app)) >= 1))
    assert caplog.text.count("database unreachable (OperationalError)") == 1

def test_restart_keeps_jobs_and_posts_and_does_not_reseed(service_app: App) -> None:
    app = service_app
    asyncio.run(run_until(app, lambda: len(published(app)) >= 1))
    with app.sessions() as session:
        tweets_before = session.scalar(select(func.count(Tweet.id)))
    posts_before = {post.id for post in published(app)}

    restarted = open_app(app.settings)
    seen = asyncio.run(run_until(restarted, lambda: len(published(restarted)) > len(posts_before)))
    assert posts_before <= {post.id for post in published(restarted)}
    with restarted.sessions() as session:
        assert session.scalar(select(func.count(Tweet.id))) == tweets_before
    assert seen["health"]["jobs"] == 2
    assert "campaign-1" in seen["jobs"] and "outbox" in seen["jobs"]
    restarted.engine.dispose()


def test_review_mode_keeps_posts_as_drafts(service_app: App) -> None:
    app = service_app
    app = App(settings=app.settings.model_copy(update={"review_mode": True}), engine=app.engine,
              sessions=app.sessions)

    def drafts() -> int:
        with app.sessions() as session:
            return int(session.scalar(select(func.count(Post.id)).where(Post.status == PostStatus.DRAFT)) or 0)

    asyncio.run(run_until(app, lambda: drafts() >= 2))
    assert published(app) == []
    assert not (app.settings.data_dir / "outbox").exists()


def test_training_waits_for_the_running_one_and_not_after_stop(sqlite_app: App) -> None:
    runtime = Runtime(app=sqlite_app, generator=StubGenerator(), publishers={})
    jobs.configure(runtime)
    try:
        runtime.training_lock.acquire()  # a training run is going on
        waiting = threading.Thread(target=jobs.train_text)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # the second training waits its turn
        stop_children(runtime)  # shutting down: it must not start a child now
        runtime.training_lock.release()
        waiting.join(10)
        assert not waiting.is_alive()
        assert not (sqlite_app.settings.data_dir / "logs" / "train-text.log").exists()
    finally:
        jobs.configure(None)


def test_child_process_works_on_the_same_database(tmp_path: Path) -> None:
    elsewhere = open_app(Settings(data_dir=tmp_path / "elsewhere"))  # not the default ./var
    with elsewhere.sessions.begin() as session:
        session.add(Persona(name="ada_lovelace"))
    runtime = Runtime(app=elsewhere, generator=StubGenerator(), publishers={})
    assert run_cli(runtime, ["corpus", "list"], "corpus-list", timeout_s=120)
    assert "ada_lovelace" in (tmp_path / "elsewhere" / "logs" / "corpus-list.log").read_text()
    assert not runtime.children
    elsewhere.engine.dispose()


def test_a_failed_child_is_one_warning_with_its_reason(
    sqlite_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(app=sqlite_app, generator=StubGenerator(), publishers={})
    with caplog.at_level("INFO", logger="nowbot.children"):
        assert not run_cli(runtime, ["train", "text", "--persona", "nope"], "train-text", timeout_s=120)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0].startswith("nowbot train text --persona nope failed (exit status 1): error: "
                                  "no persona named nope; `nowbot corpus list` shows them; see ")
    assert warnings[0].endswith("train-text.log")


def request_training(app: App, persona: str) -> int:
    """An admin's `/train text PERSONA`, as the chat command records it; returns the run id."""
    reply = commands.train(app, "text", persona, "admin#0001")
    return int(reply.text.split("`#")[1].split("`")[0])


def quick_runtime(app: App) -> Runtime:
    """A runtime whose training runs last a few seconds."""
    quick = App(settings=app.settings.model_copy(update={"train_text_minutes": 0.05}),
                engine=app.engine, sessions=app.sessions)
    return Runtime(app=quick, generator=StubGenerator(), publishers={})


def run_requests(app: App, stopping: bool = False, runtime: Runtime | None = None) -> bool | None:
    """One run of the `train-requests` job."""
    runtime = runtime or quick_runtime(app)
    if stopping:
        stop_children(runtime)
    jobs.configure(runtime)
    try:
        return jobs.train_requested()
    finally:
        jobs.configure(None)


def run_row(app: App, run_id: int) -> TrainingRun:
    with app.sessions() as session:
        return session.get_one(TrainingRun, run_id)


def test_requested_training_trains_in_a_child_at_low_priority_and_succeeds(app: App) -> None:
    store(app, {"ada": 40})
    run_id = request_training(app, "ada")
    runtime = quick_runtime(app)
    niceness: list[int] = []
    environ: list[bytes] = []
    autogroup: list[str] = []  # its session's share of the CPU, where the kernel has autogroups
    grouped = Path("/proc/self/autogroup").exists()

    def watch() -> None:  # the training child's CPU priority and threads, read while it runs
        while not (niceness and (autogroup or not grouped)) and job.is_alive():
            for child in list(runtime.children):
                with suppress(ProcessLookupError, FileNotFoundError):
                    if not niceness:
                        environ.append(Path(f"/proc/{child.pid}/environ").read_bytes())
                        niceness.append(os.getpriority(os.PRIO_PROCESS, child.pid))
                    if grouped and (group := Path(f"/proc/{child.pid}/autogroup").read_text()
                                    ).endswith(f" nice {niceness[0]}\n"):
                        autogroup.append(group)
            time.sleep(0.05)

    outcome: list[bool | None] = []
    job = threading.Thread(target=lambda: outcome.append(run_requests(app, runtime=runtime)))
    job.start()
    watch()
    job.join()
    assert outcome == [True]
    assert niceness[0] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    assert autogroup or not grouped  # the child's whole session yields, not only its process
    threads = str(app.settings.training_threads).encode()
    assert b"TF_NUM_INTRAOP_THREADS=" + threads + b"\0" in environ[0]  # a core left for the bot
    run = run_row(app, run_id)
    assert (run.status, run.error) == (RunStatus.SUCCEEDED, None) and run.finished_at is not None
    serving = Registry(app.sessions, app.artifacts_dir).serving("text", "ada")
    assert serving is not None and serving.training_run_id == run_id
    with app.sessions() as session:  # one request, one run row: the child used the request's
        assert session.scalar(select(func.count(TrainingRun.id))) == 1
    assert run_requests(app) is None  # taken once: nothing left to do


def test_a_killed_training_is_marked_failed_and_blocks_no_new_request(app: App) -> None:
    store(app, {"ada": 5})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a training child killed with -9 leaves its row running with a dead pid
    with app.sessions.begin() as session:
        killed = TrainingRun(kind="text", target="ada", status=RunStatus.RUNNING, pid=gone.pid)
        session.add(killed)
        session.flush()
        killed_id = killed.id
    new_id = request_training(app, "ada")  # accepted at once, not an hour later
    assert new_id != killed_id
    run = run_row(app, killed_id)
    assert run.status == RunStatus.FAILED and "ended without finishing" in (run.error or "")


def test_requested_training_that_fails_is_marked_failed(app: App) -> None:
    store(app, {"bob": 0})  # a persona without tweets cannot be trained
    run_id = request_training(app, "bob")

    assert run_requests(app) is False
    run = run_row(app, run_id)
    assert run.status == RunStatus.FAILED and "train-text.log" in (run.error or "")
    assert Registry(app.sessions, app.artifacts_dir).serving("text", "bob") is None


def test_expired_request_is_failed_with_reason_and_not_trained(app: App) -> None:
    store(app, {"ada": 5})
    with app.sessions.begin() as session:
        stale = TrainingRun(kind="text", target="ada", status=RunStatus.REQUESTED,
                            created_at=utcnow() - training.REQUEST_EXPIRES - timedelta(minutes=1))
        session.add(stale)
        session.flush()
        stale_id = stale.id

    assert run_requests(app) is None
    run = run_row(app, stale_id)
    assert run.status == RunStatus.FAILED and "expired" in (run.error or "")
    assert not (app.settings.data_dir / "logs" / "train-text.log").exists()


def test_request_taken_during_shutdown_waits_for_the_next_start(app: App) -> None:
    store(app, {"ada": 5})
    run_id = request_training(app, "ada")
    assert run_requests(app, stopping=True) is False
    assert run_row(app, run_id).status == RunStatus.REQUESTED


def test_a_model_kind_with_nothing_serving_trains_at_start_not_hours_later(sqlite_app: App) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.scheduler import build_scheduler, install_jobs, job_specs
    from bot.service import _train_soon_if_nothing_serves
    from models.registry import Registry

    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    text = registry.save_version("text", "siggraph", lambda folder: None, {"bpc": 2.0})
    registry.promote_if_better(text.id, "bpc")
    scheduler = build_scheduler(sqlite_app, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        install_jobs(scheduler, job_specs(sqlite_app.settings), sqlite_app.settings.misfire_grace_seconds)
        later = datetime.now(UTC) + timedelta(hours=1)
        for job_id in ("train-text", "train-gan"):  # as after a restart: next runs hours away
            scheduler.get_job(job_id).modify(next_run_time=later)
        _train_soon_if_nothing_serves(sqlite_app, scheduler)
        assert scheduler.get_job("train-gan").next_run_time < later  # no GAN serves: now
        assert scheduler.get_job("train-text").next_run_time == later  # a text model serves
    finally:
        scheduler.shutdown(wait=False)
