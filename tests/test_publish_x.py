"""Publishing through the real tweepy client against the fake X API on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from fake_x import FakeX, attach
from PIL import Image

from bot import outbox, publishing
from bot.app import App, open_app
from bot.config import Settings
from bot.platforms.x.publisher import XPublisher
from storage.outbox import Delivery, GeneratedItem, Post, PostStatus

REPO = Path(__file__).resolve().parents[1]
CREATE, UPLOAD = "POST /2/tweets", "POST /2/media/upload"


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def x_settings(fake: FakeX, **overrides: str) -> dict[str, SecretStr]:
    values = {
        "x_consumer_key": fake.consumer_key, "x_consumer_secret": fake.consumer_secret,
        "x_access_token": fake.access_token, "x_access_token_secret": fake.access_token_secret,
        **overrides,
    }
    return {name: SecretStr(value) for name, value in values.items()}


def publisher_for(fake: FakeX, settings: Settings, **options: float) -> XPublisher:
    publisher = XPublisher(settings.model_copy(update=x_settings(fake)), retry_wait=0.01, **options)
    attach(publisher.client, fake)
    return publisher


def queue(app: App, text: str, image: Path | None = None, *, platforms: tuple[str, ...] = ("x",),
          alt: str | None = None) -> int:
    """An approved post for `platforms` (with `image` and its description); its id."""
    with app.sessions.begin() as session:
        image_id = None
        if image is not None:
            item = GeneratedItem(kind="image", artifact_path=str(image), details={})
            session.add(item)
            session.flush()
            image_id = item.id
        post = outbox.create_post(session, platforms=platforms, text=text, hashtag="#siggraphNOW",
                                  review=False, image_item_id=image_id, image_alt=alt)
        return post.id


def load(app: App, post_id: int) -> Delivery:
    """The post's delivery to X, as stored now."""
    with app.sessions() as session:
        delivery = session.get_one(Post, post_id).delivery("x")
    assert delivery is not None
    return delivery


def test_text_post_is_published_with_its_x_id_and_cost(app: App, fake: FakeX) -> None:
    publisher = publisher_for(fake, app.settings)
    post_id = queue(app, "Real-time rendering keynote in hall B")
    publishing.publish_due(app.sessions, {"x": publisher})
    post = load(app, post_id)
    assert post.status == PostStatus.PUBLISHED
    assert [t.text for t in fake.posted] == ["Real-time rendering keynote in hall B #siggraphNOW"]
    assert post.external_id == str(fake.posted[0].id)
    assert post.cost_usd == pytest.approx(app.settings.x_cost_per_post_usd)


def test_post_with_image_uploads_it_with_v2_media_upload(app: App, fake: FakeX, tmp_path: Path) -> None:
    image = tmp_path / "grid.png"
    Image.new("RGB", (8, 8), "orange").save(image)
    publisher = publisher_for(fake, app.settings)
    post_id = queue(app, "Fresh samples from the GAN", image)
    publishing.publish_due(app.sessions, {"x": publisher})
    assert load(app, post_id).status == PostStatus.PUBLISHED
    [media_id] = fake.media
    assert fake.media[media_id]["bytes"] == image.read_bytes()
    assert fake.media[media_id]["media_category"] == "tweet_image"
    assert fake.posted[0].media_ids == [media_id]
    assert fake.calls(UPLOAD)[0].headers["authorization"].startswith("OAuth ")


def test_rate_limit_waits_for_reset_without_sending(app: App, fake: FakeX) -> None:
    publisher = publisher_for(fake, app.settings)
    post_id = queue(app, "Volunteers meet at the registration desk")
    fake.fail(CREATE, 429, reset_in=120)
    publishing.publish_due(app.sessions, {"x": publisher})
    post = load(app, post_id)
    assert post.status == PostStatus.APPROVED and "rate limit" in (post.error or "")
    assert post.scheduled_for is not None
    publishing.publish_due(app.sessions, {"x": publisher})  # before the reset: nothing is sent
    assert len(fake.calls(CREATE)) == 1 and fake.posted == []


def test_server_error_is_reconciled_then_published_once(app: App, fake: FakeX) -> None:
    publisher = publisher_for(fake, app.settings)
    post_id = queue(app, "Exhibition floor opens at ten")
    fake.fail(CREATE, 503)
    publishing.publish_due(app.sessions, {"x": publisher})
    assert load(app, post_id).status == PostStatus.UNKNOWN
    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(0))
    assert load(app, post_id).status == PostStatus.APPROVED  # checked: it is not on the account
    publishing.publish_due(app.sessions, {"x": publisher})
    assert load(app, post_id).status == PostStatus.PUBLISHED
    assert len(fake.posted) == 1 and len(fake.calls(CREATE)) == 2


def test_timeout_after_accept_is_found_by_reconciliation_not_reposted(app: App, fake: FakeX) -> None:
    publisher = publisher_for(fake, app.settings, timeout=0.5)
    post_id = queue(app, "Papers fast forward starts now & runs late")
    fake.fail(CREATE, None, delay=3)  # X creates the post but answers too late
    publishing.publish_due(app.sessions, {"x": publisher})
    assert load(app, post_id).status == PostStatus.UNKNOWN
    publishing.publish_due(app.sessions, {"x": publisher})
    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(0))
    post = load(app, post_id)
    assert post.status == PostStatus.PUBLISHED
    assert post.external_id == str(fake.posted[0].id)
    assert len(fake.calls(CREATE)) == 1


def test_an_ssl_error_after_the_request_went_out_is_reconciled_not_resent(
    app: App, fake: FakeX
) -> None:
    publisher = publisher_for(fake, app.settings)
    adapter = publisher.client.session.get_adapter("https://api.twitter.com")
    send = adapter.send

    def send_then_break(request: Any, **options: Any) -> Any:
        response = send(request, **options)  # X got the post and created it ...
        if request.method == "POST":
            raise requests.exceptions.SSLError("EOF occurred in violation of protocol")
        return response  # ... but the TLS connection broke before its answer was read

    adapter.send = send_then_break
    post_id = queue(app, "Real-Time Live starts in ten minutes")
    publishing.publish_due(app.sessions, {"x": publisher})
    assert load(app, post_id).status == PostStatus.UNKNOWN  # not "certainly not sent"
    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(0))
    assert load(app, post_id).status == PostStatus.PUBLISHED
    assert len(fake.calls(CREATE)) == 1


def test_bad_credentials_fail_without_leaking_secrets(app: App, fake: FakeX) -> None:
    settings = app.settings.model_copy(update=x_settings(fake, x_access_token_secret="wrong-s3cret"))
    publisher = XPublisher(settings)
    attach(publisher.client, fake)
    post_id = queue(app, "Course notes are online")
    publishing.publish_due(app.sessions, {"x": publisher})
    post = load(app, post_id)
    assert post.status == PostStatus.FAILED
    assert "credentials" in (post.error or "") and "s3cret" not in (post.error or "")
    assert fake.posted == []


def test_unreachable_x_is_retried_with_backoff_then_left_approved(app: App, fake: FakeX) -> None:
    publisher = publisher_for(fake, app.settings)
    fake.stop()  # nothing listens: the connection is refused before anything is sent
    post_id = queue(app, "Live demo at the booth")
    started = time.monotonic()
    publishing.publish_due(app.sessions, {"x": publisher})
    post = load(app, post_id)
    assert post.status == PostStatus.APPROVED and "could not reach X" in (post.error or "")
    assert post.attempts == 1
    assert time.monotonic() - started >= 0.02  # two backoff waits of 0.01 s and more


KILLED_PUBLISHER = textwrap.dedent("""
    import sys, types
    from fake_x import attach
    from bot import publishing
    from bot.app import open_app
    from bot.config import Settings
    from bot.platforms.x.publisher import XPublisher

    url, base_url, delivery_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = Settings(database_url=url, x_consumer_key="fake-consumer-key",
                        x_consumer_secret="fake-consumer-secret", x_access_token="fake-access-token",
                        x_access_token_secret="fake-access-secret")
    publisher = XPublisher(settings, timeout=60)
    attach(publisher.client, types.SimpleNamespace(base_url=base_url))
    publishing.publish_delivery(open_app(settings).sessions, delivery_id, publisher)
""")


def test_kill_between_request_and_commit_never_posts_twice(sqlite_app: App, fake: FakeX) -> None:
    app = sqlite_app
    post_id = queue(app, "Birds of a feather: open source renderers")
    fake.fail(CREATE, None, delay=60)  # X records the post; the answer never arrives in time
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PUBLISHER, app.settings.resolved_database_url,
         fake.base_url, str(load(app, post_id).id)], env=env,
    )
    deadline = time.monotonic() + 60
    while not fake.posted and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(fake.posted) == 1
    assert load(app, post_id).status == PostStatus.PUBLISHING

    restarted = open_app(app.settings)  # what the leader does on start
    assert publishing.mark_interrupted(restarted.sessions) == 1
    publisher = publisher_for(fake, app.settings)
    publishing.publish_due(restarted.sessions, {"x": publisher})  # unknown: not sent again
    publishing.reconcile(restarted.sessions, {"x": publisher}, settle=timedelta(0))
    post = load(app, post_id)
    assert post.status == PostStatus.PUBLISHED and post.external_id == str(fake.posted[0].id)
    assert len(fake.calls(CREATE)) == 1
    restarted.engine.dispose()
