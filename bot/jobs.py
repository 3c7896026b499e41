"""Scheduled jobs. Module-level functions without arguments, so APScheduler can store them by name.

They act on the process's `Runtime` (set by the service with `configure`) through the use cases
in `bot.core`. Each run catches and logs its own errors so one bad run never stops the schedule.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import wait
from typing import ParamSpec, TypeVar

from sqlalchemy import func, select

from bot import publishing
from bot.app import App
from bot.config import Settings
from bot.core import drawing, posts, reviewing, training
from bot.core.children import run_cli, run_training
from bot.core.runtime import Runtime
from models.errors import NoServingModel
from models.registry import Registry
from storage.outbox import Post
from storage.registry import RunStatus

log = logging.getLogger("nowbot.jobs")
T = TypeVar("T")
P = ParamSpec("P")
IMAGE_BATCH = 16
TARGET_OPTION = {"text": "--persona", "gan": "--set"}  # `nowbot train KIND OPTION TARGET`

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


def _job(function: Callable[P, T]) -> Callable[P, T | None]:
    """Log a job's start and any failure; a failed run returns None instead of raising."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T | None:
        log.debug("job %s started", function.__name__)
        try:
            return function(*args, **kwargs)
        except NoServingModel as error:
            log.info("job %s skipped: %s", function.__name__, error)
        except Exception:
            log.exception("job %s failed", function.__name__)
        return None

    return run


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
    trained = run_training(runtime, ["train", "text", "--persona", settings.campaign_persona,
                                     "--minutes", str(minutes), *_reviewed_option(settings)],
                           "train-text", minutes)
    if trained and _post_count(runtime.app) == 0:  # a fresh install shows a first post at once
        campaign_post()
        process_outbox()
    return trained


def _reviewed_option(settings: Settings) -> list[str]:
    """What a text training child is told of reviewed campaign posts (`--without-reviewed`
    when the settings leave them out of training)."""
    return [] if settings.review_texts_in_training else ["--without-reviewed"]


@_job
def train_review_model() -> int | None:
    """Train the campaign persona's review model from its reviewers' decisions (gated; a
    fraction of a second); the version saved, or None when too few decisions were kept."""
    return reviewing.train(current().app).version


@_job
def train_gan() -> bool:
    """Train the campaign image set's GAN for a batch, then draw a new image batch; then its
    draw models (each mode that serves), a batch each."""
    runtime = current()
    if runtime.image_set is None:
        return False
    minutes = runtime.app.settings.train_gan_minutes
    trained = run_training(runtime, ["train", "gan", "--set", runtime.image_set,
                                     "--minutes", str(minutes)], "train-gan", minutes)
    if trained:
        try:
            posts.save_image(runtime, runtime.image_set, IMAGE_BATCH, kind="image_batch")
        except NoServingModel:  # the new version was not promoted, and none served before
            log.info("no new image batch of %s: no GAN version of it serves yet", runtime.image_set)
    for mode in drawing.serving_modes(runtime.app, runtime.image_set):
        run_training(runtime, ["train", "draw", "--set", runtime.image_set, "--mode", mode,
                               "--minutes", str(minutes)], "train-draw", minutes)
    return trained


@_job
def train_requested() -> bool | None:
    """Run the oldest training asked for from chat (`/train`), after any training going on;
    requests not started within `training.REQUEST_EXPIRES` are marked failed instead."""
    runtime = current()
    app, settings = runtime.app, runtime.app.settings
    if dead := Registry(app.sessions, app.artifacts_dir).fail_dead_runs():
        log.warning("%d training run(s) had lost their process; marked failed", dead)
    if expired := training.expire_requests(app):
        log.warning("%d training request(s) expired before they could start", expired)
    request = training.take_request(app)
    if request is None:
        return None
    run_id, kind, target = request
    if kind not in TARGET_OPTION:
        training.finish_request(app, run_id, RunStatus.FAILED, f"unknown model kind '{kind}'")
        return False
    minutes = settings.train_text_minutes if kind == "text" else settings.train_gan_minutes
    log_name = f"train-{kind}"
    log.info("training run %s: %s on '%s', as requested", run_id, kind, target)
    trained = False
    try:
        # The child records its run in this request's row (`--run-id`): one request, one row.
        trained = run_training(runtime, ["train", kind, TARGET_OPTION[kind], target, "--minutes",
                                         str(minutes), "--run-id", str(run_id),
                                         *(_reviewed_option(settings) if kind == "text" else [])],
                               log_name, minutes)
    finally:
        if runtime.stopping.is_set() and not trained:  # shutting down: the next leader runs it
            training.finish_request(app, run_id, RunStatus.REQUESTED)
        elif not trained:
            log_file = settings.data_dir / "logs" / f"{log_name}.log"
            training.finish_request(app, run_id, RunStatus.FAILED,
                                    f"training failed; see {log_file}")
    return trained


@_job
def campaign_post(slot: str | None = None) -> int:
    """Write a campaign post (with a new image when a GAN serves) for each publishing platform;
    one per scheduled `slot` (`job@time`) when the queue gives one, however often it runs."""
    return posts.make_campaign_post(current(), slot=slot).id  # logged as prepared


@_job
def process_outbox() -> list[int]:
    """Settle deliveries abandoned mid-request (claimed before the fence, on platforms this
    process is not sending to now); then on each platform, in its own lane, reconcile deliveries
    whose outcome is unknown and publish approved deliveries that are due. Waits for the lanes at
    most half an outbox interval (a slow platform goes on alone); returns the ids of the
    deliveries tried by then."""
    runtime = current()
    sessions, settings = runtime.app.sessions, runtime.app.settings
    deadline_s = settings.publish_deadline_seconds
    publishing.mark_interrupted(sessions, older_than=publishing.fence(deadline_s),
                                busy=runtime.lanes.busy())
    if runtime.queue is not None:  # each platform's round is a job of its own, one at a time
        runtime.queue.publish_rounds(list(runtime.publishers))
        return []
    started = [
        future for publisher in list(runtime.publishers.values())
        if (future := runtime.lanes.start(publisher.platform, functools.partial(
            publishing.platform_round, sessions, publisher, deadline_s))) is not None
    ]
    done, _ = wait(started, timeout=settings.outbox_interval_seconds / 2)
    return [delivery.id for future in done if future.exception() is None
            for delivery in future.result()]


@_job
def platform_round(platform: str) -> list[int]:
    """One publishing round on `platform` (a queued job): reconcile its unknown deliveries and
    publish its due ones; returns the ids tried."""
    runtime = current()
    publisher = runtime.publishers.get(platform)
    if publisher is None:
        log.warning("no publisher for %s on this worker; its posts wait", platform)
        return []
    tried = publishing.platform_round(runtime.app.sessions, publisher,
                                      runtime.app.settings.publish_deadline_seconds)
    return [delivery.id for delivery in tried]


def _post_count(app: App) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count(Post.id))) or 0)
