"""A bad day on one platform stops nothing else: each delivery has a total deadline, each platform
publishes in its own lane, failures are sorted by what the request could have done and counted
by a circuit breaker, and a resend with a key happens only while the key still covers it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from fake_bluesky import FakeBluesky
from fake_mastodon import FakeMastodon
from fake_x import FakeX
from pydantic import SecretStr
from service_harness import StubGenerator
from sqlalchemy import update

from bot import jobs, platform_health, publishing
from bot.app import App
from bot.core.runtime import Runtime
from bot.platforms.bluesky.publisher import BlueskyPublisher
from bot.platforms.local.publisher import LocalPublisher
from bot.platforms.mastodon.publisher import MastodonPublisher
from storage.base import as_utc, utcnow
from storage.outbox import Delivery, PlatformHealth, PostStatus
from test_dashboard_models import _get, _page
from test_outbox import add, delivery
from test_publish_x import publisher_for as x_publisher
from test_publish_x import queue

MASTODON_CREATE = "POST /api/v1/statuses"
X_CREATE = "POST /2/tweets"


@contextmanager
def silent_server() -> Iterator[str]:
    """A server that accepts connections and reads requests but never answers; its address."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def closed_port() -> str:
    """An address where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def mastodon_at(app: App, url: str, **options: float) -> MastodonPublisher:
    settings = app.settings.model_copy(update={
        "mastodon_instance_url": url, "mastodon_access_token": SecretStr("token")})
    return MastodonPublisher(settings, poll_s=0.01, **options)


def bluesky_at(app: App, fake: FakeBluesky) -> BlueskyPublisher:
    settings = app.settings.model_copy(update={
        "bluesky_handle": fake.handle, "bluesky_app_password": SecretStr(fake.password),
        "bluesky_service_url": fake.base_url})
    return BlueskyPublisher(settings)


def health(app: App, platform: str) -> PlatformHealth | None:
    with app.sessions() as session:
        return session.get(PlatformHealth, platform)


@pytest.fixture
def fake_bluesky() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


def test_a_mastodon_that_never_answers_delays_neither_bluesky_nor_the_outbox_run(
        sqlite_app: App, fake_bluesky: FakeBluesky) -> None:
    app = replace(sqlite_app, settings=sqlite_app.settings.model_copy(update={
        "outbox_interval_seconds": 10, "publish_deadline_seconds": 5}))
    post = add(app, "Real-Time Live starts in ten minutes", review=False,
               platforms=("mastodon", "bluesky"))
    with silent_server() as url:
        runtime = Runtime(app=app, generator=StubGenerator(), publishers={
            "mastodon": mastodon_at(app, url, timeout=2), "bluesky": bluesky_at(app, fake_bluesky)})
        jobs.configure(runtime)
        try:
            began = time.monotonic()
            tried = jobs.process_outbox()
            took = time.monotonic() - began
            assert delivery(app, post.id, "bluesky").status == PostStatus.PUBLISHED
            assert delivery(app, post.id, "bluesky").id in tried
            assert took < 10  # the run waits for a slow lane at most half an interval
            ends = time.monotonic() + 30  # Mastodon's own lane ends by its deadline
            while runtime.lanes.busy() and time.monotonic() < ends:
                time.sleep(0.1)
            assert runtime.lanes.busy() == []
        finally:
            jobs.configure(None)
    stuck = delivery(app, post.id, "mastodon")
    assert stuck.status == PostStatus.APPROVED  # nothing was created: tried again later
    assert "could not reach Mastodon" in (stuck.error or "")
    assert len(fake_bluesky.records) == 1


def test_a_refused_connection_is_not_sent_and_stops_at_the_attempt_limit(sqlite_app: App) -> None:
    publisher = mastodon_at(sqlite_app, closed_port())
    post = add(sqlite_app, "Papers fast forward starts now", review=False, platforms=("mastodon",))
    for _ in range(publishing.MAX_ATTEMPTS):
        publishing.publish_delivery(sqlite_app.sessions, post.deliveries[0].id, publisher)
    failed = delivery(sqlite_app, post.id, "mastodon")
    assert failed.status == PostStatus.FAILED  # never "unknown" (a RecursionError once made it so)
    assert failed.attempts == publishing.MAX_ATTEMPTS
    assert "could not reach Mastodon" in (failed.error or "")


def test_a_failing_platform_is_paused_with_backoff_and_resumes_after_a_success(
        sqlite_app: App, fake_mastodon: FakeMastodon) -> None:
    publisher = mastodon_at(sqlite_app, fake_mastodon.base_url)
    publisher._token = SecretStr(fake_mastodon.token)
    post = add(sqlite_app, "Exhibition floor opens at ten", review=False, platforms=("mastodon",))
    fake_mastodon.fail("GET /api/v1/instance", 502, times=platform_health.BREAK_AFTER)
    for _ in range(platform_health.BREAK_AFTER):
        publishing.platform_round(sqlite_app.sessions, publisher)
    paused = health(sqlite_app, "mastodon")
    assert paused is not None and paused.failures == platform_health.BREAK_AFTER
    assert paused.paused_until is not None
    assert "could not reach Mastodon" in (paused.last_error or "")
    assert publishing.platform_round(sqlite_app.sessions, publisher) == []  # paused: not tried
    shown = _page(sqlite_app, "/")  # the dashboard's queue says so, and /healthz
    assert "mastodon: paused until" in shown and "after 3 failures in a row" in shown
    [(_, healthz)] = _get(sqlite_app, "/healthz")
    [said] = json.loads(healthz)["failing_platforms"]
    assert said.startswith("mastodon: paused until")
    assert delivery(sqlite_app, post.id, "mastodon").attempts == platform_health.BREAK_AFTER
    with sqlite_app.sessions.begin() as session:  # the pause is over: one trial
        session.execute(update(PlatformHealth).values(paused_until=utcnow()))
    publishing.platform_round(sqlite_app.sessions, publisher)
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.PUBLISHED
    assert "mastodon: paused" not in _page(sqlite_app, "/")
    closed = health(sqlite_app, "mastodon")
    assert closed is not None and closed.failures == 0 and closed.paused_until is None
    next_pause = platform_health.pause_for(platform_health.BREAK_AFTER + 1)
    assert next_pause == 2 * platform_health.FIRST_PAUSE


def test_a_resend_delayed_past_the_keys_lifetime_is_reconciled_not_sent(
        sqlite_app: App, fake_mastodon: FakeMastodon) -> None:
    publisher = mastodon_at(sqlite_app, fake_mastodon.base_url, timeout=0.5)
    publisher._token = SecretStr(fake_mastodon.token)
    post = add(sqlite_app, "Papers fast forward starts now", review=False, platforms=("mastodon",))
    fake_mastodon.fail(MASTODON_CREATE, None, delay=2)  # created, answered too late
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.UNKNOWN
    publishing.reconcile(sqlite_app.sessions, {"mastodon": publisher})  # resend with its key ...
    fake_mastodon.fail(MASTODON_CREATE, 429, reset_in=0.2)  # ... rate limited ...
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    waiting = delivery(sqlite_app, post.id, "mastodon")
    assert waiting.status == PostStatus.APPROVED and waiting.unsure_since is not None
    with sqlite_app.sessions.begin() as session:  # ... until the server forgot the key
        session.execute(update(Delivery).where(Delivery.id == waiting.id).values(
            unsure_since=utcnow() - timedelta(hours=1), scheduled_for=None))
    time.sleep(0.3)
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.UNKNOWN  # not sent
    publishing.reconcile(sqlite_app.sessions, {"mastodon": publisher}, settle=timedelta(0))
    found = delivery(sqlite_app, post.id, "mastodon")
    assert found.status == PostStatus.PUBLISHED
    assert found.external_id == fake_mastodon.statuses[0]["url"]
    assert len(fake_mastodon.statuses) == 1 and len(fake_mastodon.calls(MASTODON_CREATE)) == 2


def test_reconciliation_does_not_take_an_older_post_with_the_same_text(
        sqlite_app: App) -> None:
    text = "Real-Time Live starts in ten minutes"
    with FakeX() as fake:
        publisher = x_publisher(fake, sqlite_app.settings)
        [older] = fake.add_tweets(fake.me["username"], [f"{text} #siggraphNOW"],
                                  ago=timedelta(days=1))
        post_id = queue(sqlite_app, text)
        fake.fail(X_CREATE, 503)  # nothing created
        publishing.publish_due(sqlite_app.sessions, {"x": publisher})
        assert delivery(sqlite_app, post_id).status == PostStatus.UNKNOWN
        publishing.reconcile(sqlite_app.sessions, {"x": publisher}, settle=timedelta(0))
        checked = delivery(sqlite_app, post_id)
        assert checked.status == PostStatus.APPROVED and checked.external_id is None
        publishing.publish_due(sqlite_app.sessions, {"x": publisher})
        published = delivery(sqlite_app, post_id)
        assert published.status == PostStatus.PUBLISHED and published.external_id != older
        assert len(fake.posted) == 1


def test_after_a_rate_limit_has_reset_mastodon_is_tried_again(
        sqlite_app: App, fake_mastodon: FakeMastodon) -> None:
    publisher = mastodon_at(sqlite_app, fake_mastodon.base_url)
    publisher._token = SecretStr(fake_mastodon.token)
    post = add(sqlite_app, "Papers fast forward starts now", review=False, platforms=("mastodon",))
    fake_mastodon.fail(MASTODON_CREATE, 429, reset_in=0.5)
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    waiting = delivery(sqlite_app, post.id, "mastodon")
    assert waiting.status == PostStatus.APPROVED and waiting.scheduled_for is not None
    reset = as_utc(waiting.scheduled_for)
    assert reset is not None and reset - utcnow() < timedelta(seconds=5)  # the server's reset
    time.sleep((reset - utcnow()).total_seconds() + 0.2)  # past it; its next answers name none
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.PUBLISHED


def test_a_delivery_abandoned_mid_request_is_settled_once_past_the_fence(sqlite_app: App) -> None:
    app = replace(sqlite_app, settings=sqlite_app.settings.model_copy(update={
        "publish_deadline_seconds": 5}))
    post = add(app, "Exhibition floor opens at ten", review=False, platforms=("local",))
    claimed = utcnow() - publishing.fence(5) - timedelta(seconds=1)  # a dead process's claim
    with app.sessions.begin() as session:
        session.execute(update(Delivery).values(status=PostStatus.PUBLISHING, attempts=1,
                                                attempted_at=claimed, updated_at=claimed))
    fresh = add(app, "Papers fast forward starts now", review=False, platforms=("local",))
    with app.sessions.begin() as session:  # one claimed a moment ago: maybe still being sent
        session.execute(update(Delivery).where(Delivery.post_id == fresh.id).values(
            status=PostStatus.PUBLISHING, attempts=1, attempted_at=utcnow()))
    runtime = Runtime(app=app, generator=StubGenerator(), publishers={
        "local": LocalPublisher(app.settings.data_dir / "outbox")})
    jobs.configure(runtime)
    try:
        jobs.process_outbox()
    finally:
        jobs.configure(None)
    assert delivery(app, post.id, "local").status == PostStatus.PUBLISHED  # resent under its name
    assert delivery(app, fresh.id, "local").status == PostStatus.PUBLISHING  # not touched


def test_a_bluesky_session_that_cannot_be_kept_costs_nothing_but_a_warning(
        sqlite_app: App, fake_bluesky: FakeBluesky, caplog: pytest.LogCaptureFixture) -> None:
    publisher = bluesky_at(sqlite_app, fake_bluesky)
    publisher.session_file.mkdir(parents=True)  # cannot be replaced by a file: as a full disk
    first = add(sqlite_app, "Exhibition floor opens at ten", review=False, platforms=("bluesky",))
    second = add(sqlite_app, "Papers fast forward starts now", review=False,
                 platforms=("bluesky",))
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    assert delivery(sqlite_app, first.id, "bluesky").status == PostStatus.PUBLISHED
    assert delivery(sqlite_app, second.id, "bluesky").status == PostStatus.PUBLISHED
    assert "cannot keep the Bluesky session" in caplog.text
