"""Scheduled jobs. Module-level functions without arguments, so APScheduler can store them by name.

They act on the process's `Runtime` (set by the service with `configure`). Each run catches and
logs its own errors so one bad run never stops the schedule. Training runs in a child process
(`python -m bot.cli train ...`), one at a time, so neither the event loop nor the other jobs
stall; a training child killed mid-run leaves the serving model as it was (the registry only
promotes completed versions).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import outbox
from bot.app import App
from bot.commands import REQUEST_EXPIRES
from bot.publishers.base import Publisher
from models.errors import NoServingModel
from storage.artifacts import atomic_write_bytes
from storage.base import utcnow
from storage.corpus import Persona
from storage.outbox import GeneratedItem, Post
from storage.registry import RunStatus, TrainingRun

log = logging.getLogger("nowbot.jobs")
T = TypeVar("T")
RECENT_POSTS = 20
IMAGE_BATCH = 16
TARGET_OPTION = {"text": "--persona", "gan": "--set"}  # `nowbot train KIND OPTION TARGET`


class GeneratedTextLike(Protocol):
    text: str
    score: float
    model_version_id: int


class Generator(Protocol):
    """What the jobs ask of the models (`bot.generation` provides it)."""

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> GeneratedTextLike: ...

    def render_image_grid(self, app: App, image_set: str, count: int) -> bytes: ...

    def progress_gif(self, app: App, image_set: str) -> bytes: ...


@dataclass
class Runtime:
    """What jobs work with in this process."""

    app: App
    generator: Generator
    publishers: dict[str, Publisher]
    image_set: str | None = None
    scheduler: BaseScheduler | None = None  # set while this process is the leader
    training_lock: threading.Lock = field(default_factory=threading.Lock)
    children: set[subprocess.Popen[bytes]] = field(default_factory=set)
    stopping: threading.Event = field(default_factory=threading.Event)


_runtime: Runtime | None = None


def configure(runtime: Runtime | None) -> None:
    """Set (or clear) the runtime the jobs of this process act on."""
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    """The configured runtime; jobs fail loudly if the service did not set one."""
    if _runtime is None:
        raise RuntimeError("bot.jobs.configure() was not called in this process")
    return _runtime


def _job(function: Callable[[], T]) -> Callable[[], T | None]:
    """Log a job's start and any failure; a failed run returns None instead of raising."""

    @functools.wraps(function)
    def run() -> T | None:
        log.info("job %s started", function.__name__)
        try:
            return function()
        except NoServingModel as error:
            log.info("job %s skipped: %s", function.__name__, error)
        except Exception:
            log.exception("job %s failed", function.__name__)
        return None

    return run


# -- child processes ---------------------------------------------------------------------------

def run_cli(runtime: Runtime, args: list[str], log_name: str, timeout_s: float,
            niceness: int = 0, threads: int = 0) -> bool:
    """Run `nowbot ARGS` in a child process on the same database; returns whether it succeeded.

    Output goes to `DATA_DIR/logs/<log_name>.log`. The child has its own session, so a Ctrl-C
    meant for the service does not reach it; the service stops it on shutdown. A `niceness`
    above 0 starts it through `nice -n` (a command prefix: `preexec_fn` is unsafe with threads);
    `threads` above 0 caps TensorFlow's thread pools in the child.
    """
    settings = runtime.app.settings
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NOWBOT_DATA_DIR": str(settings.data_dir),
        "NOWBOT_DATABASE_URL": settings.resolved_database_url,
        "NOWBOT_ARTIFACTS_DIR": str(settings.resolved_artifacts_dir),
    }
    if threads > 0:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(threads)
    if runtime.stopping.is_set():
        return False
    command = [sys.executable, "-m", "bot.cli", *args]
    if niceness > 0:
        nice = shutil.which("nice")
        if nice is None:
            log.warning("no `nice` command: %s runs at the service's priority", " ".join(args))
        else:
            command = [nice, "-n", str(niceness), *command]
    with open(logs / f"{log_name}.log", "ab") as output:
        child = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        runtime.children.add(child)
        try:
            code = child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s ran past %.0f s; stopping it", " ".join(args), timeout_s)
            child.terminate()
            code = child.wait()
        finally:
            runtime.children.discard(child)
    if code != 0:
        log.warning("nowbot %s exited with %s (see %s)", " ".join(args), code, logs / f"{log_name}.log")
    return code == 0


def stop_children(runtime: Runtime, grace_s: float = 10.0) -> None:
    """Stop training and collection children (SIGTERM, then SIGKILL after `grace_s`); no new
    child starts afterwards."""
    runtime.stopping.set()
    for child in list(runtime.children):
        child.terminate()
    for child in list(runtime.children):
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.kill()


def _train(runtime: Runtime, args: list[str], log_name: str, minutes: float) -> bool:
    """Run one training child at `NOWBOT_TRAIN_NICENESS` on `NOWBOT_TRAIN_THREADS`, so chat and
    the dashboard stay responsive; a second training waits for the running one to finish."""
    if not runtime.training_lock.acquire(blocking=False):
        log.info("training already running; %s starts when it ends", log_name)
        runtime.training_lock.acquire()
    try:
        settings = runtime.app.settings
        return run_cli(runtime, args, log_name, timeout_s=minutes * 60 + 300,
                       niceness=settings.train_niceness, threads=settings.training_threads)
    finally:
        runtime.training_lock.release()


# -- jobs --------------------------------------------------------------------------------------

@_job
def collect() -> bool:
    """Collect the campaign query from X into the campaign persona's corpus."""
    runtime = current()
    settings = runtime.app.settings
    if not (settings.x_read_configured and settings.collect_query):
        return False
    args = ["corpus", "collect", settings.campaign_persona, "--query", settings.collect_query, "--yes"]
    return run_cli(runtime, args, "collect", timeout_s=3600)


@_job
def train_text() -> bool:
    """Retrain the campaign persona's text model; the first model also makes a first post."""
    runtime = current()
    settings = runtime.app.settings
    minutes = settings.train_text_minutes
    trained = _train(runtime, ["train", "text", "--persona", settings.campaign_persona,
                              "--minutes", str(minutes)],
                     "train-text", minutes)
    if trained and _post_count(runtime.app) == 0:  # a fresh install shows a first post at once
        campaign_post()
        process_outbox()
    return trained


@_job
def train_gan() -> bool:
    """Train the campaign image set's GAN for a batch, then draw a new image batch."""
    runtime = current()
    if runtime.image_set is None:
        return False
    minutes = runtime.app.settings.train_gan_minutes
    trained = _train(runtime, ["train", "gan", "--set", runtime.image_set, "--minutes", str(minutes)],
                     "train-gan", minutes)
    if trained:
        _save_image(runtime, runtime.image_set, IMAGE_BATCH, kind="image_batch")
    return trained


@_job
def train_requested() -> bool | None:
    """Run the oldest training asked for from chat (`/train`), after any training going on;
    requests not started within `REQUEST_EXPIRES` are marked failed instead."""
    runtime = current()
    app, settings = runtime.app, runtime.app.settings
    expired = expire_requests(app)
    if expired:
        log.warning("%d training request(s) expired before they could start", expired)
    request = take_request(app)
    if request is None:
        return None
    run_id, kind, target = request
    if kind not in TARGET_OPTION:
        finish_request(app, run_id, RunStatus.FAILED, f"unknown model kind '{kind}'")
        return False
    minutes = settings.train_text_minutes if kind == "text" else settings.train_gan_minutes
    log_name = f"train-{kind}"
    log.info("training run %s: %s on '%s', as requested", run_id, kind, target)
    trained = False
    try:
        trained = _train(runtime, ["train", kind, TARGET_OPTION[kind], target,
                                   "--minutes", str(minutes)], log_name, minutes)
    finally:
        if trained:
            finish_request(app, run_id, RunStatus.SUCCEEDED)
        elif runtime.stopping.is_set():  # shutting down: the next leader runs it
            finish_request(app, run_id, RunStatus.REQUESTED)
        else:
            log_file = settings.data_dir / "logs" / f"{log_name}.log"
            finish_request(app, run_id, RunStatus.FAILED, f"training failed; see {log_file}")
    return trained


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
    """Record how a requested run ended (or put it back as requested)."""
    with app.sessions.begin() as session:
        run = session.get_one(TrainingRun, run_id)
        run.status, run.error = status, error
        run.finished_at = None if status == RunStatus.REQUESTED else utcnow()


@_job
def campaign_post() -> list[int]:
    """Write a campaign post (with a new image when a GAN serves) for each publishing platform."""
    runtime = current()
    app, settings = runtime.app, runtime.app.settings
    generated = _new_text(app, runtime.generator)
    image_id = None
    if runtime.image_set is not None:
        try:
            image_id = _save_image(runtime, runtime.image_set, 1, kind="image")
        except NoServingModel as error:
            log.info("campaign post without an image: %s", error)
    with app.sessions.begin() as session:
        item = _text_item(session, settings.campaign_persona, generated)
        posts = [
            outbox.create_post(session, platform=platform, text=generated.text,
                               hashtag=settings.campaign_hashtag, review=settings.reviewing,
                               campaign=settings.campaign_persona, generated_item_id=item.id,
                               image_item_id=image_id)
            for platform in list(runtime.publishers)  # adapters add and remove theirs
        ]
    log.info("campaign post prepared: %s", ", ".join(f"#{p.id} {p.platform} {p.status}" for p in posts))
    return [post.id for post in posts]


@_job
def process_outbox() -> list[int]:
    """Reconcile posts whose outcome is unknown, then publish approved posts that are due."""
    runtime = current()
    sessions = runtime.app.sessions
    outbox.mark_interrupted(sessions, older_than=outbox.STALE_PUBLISHING)
    outbox.reconcile(sessions, runtime.publishers)
    return [post.id for post in outbox.publish_due(sessions, runtime.publishers)]


def regenerate_post(app: App, generator: Generator, post_id: int) -> None:
    """Give a draft a freshly generated text (the queue's Regenerate)."""
    persona = app.settings.campaign_persona
    generated = _new_text(app, generator)
    with app.sessions.begin() as session:
        item_id = _text_item(session, persona, generated).id
    outbox.replace_text(app.sessions, post_id, generated.text, app.settings.campaign_hashtag,
                        generated_item_id=item_id)


def _new_text(app: App, generator: Generator) -> GeneratedTextLike:
    with app.sessions() as session:
        recent = list(session.scalars(select(Post.text).order_by(Post.id.desc()).limit(RECENT_POSTS)))
    return generator.generate_post_text(app, app.settings.campaign_persona, recent)


def _text_item(session: Session, persona: str, generated: GeneratedTextLike) -> GeneratedItem:
    persona_id = session.scalar(select(Persona.id).where(Persona.name == persona))
    item = GeneratedItem(kind="text", model_version_id=generated.model_version_id,
                         persona_id=persona_id, text=generated.text, score=generated.score, details={})
    session.add(item)
    session.flush()
    return item


def _post_count(app: App) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count(Post.id))) or 0)


def _save_image(runtime: Runtime, image_set: str, count: int, kind: str) -> int:
    """Render `count` images of `image_set` as one PNG under the artifacts; returns its item id."""
    app = runtime.app
    png = runtime.generator.render_image_grid(app, image_set, count)
    path = app.artifacts_dir / "generated" / image_set / f"{kind}-{uuid.uuid4().hex[:12]}.png"
    atomic_write_bytes(path, png)
    with app.sessions.begin() as session:
        item = GeneratedItem(kind=kind, artifact_path=str(path),
                             details={"image_set": image_set, "count": count})
        session.add(item)
        session.flush()
        return item.id

