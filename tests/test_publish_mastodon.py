"""Publishing through the real Mastodon.py client against the fake Mastodon on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fake_mastodon import FakeMastodon
from PIL import Image
from pydantic import SecretStr

from bot import publishing
from bot.app import App
from bot.platforms.mastodon.publisher import MastodonPublisher
from bot.platforms.mastodon.text import fit_text, post_length
from storage.base import utcnow
from storage.outbox import Delivery, PostStatus
from test_outbox import add, delivery
from test_publish_x import queue

CREATE, MEDIA = "POST /api/v1/statuses", "POST /api/v2/media"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(processing_polls=2) as server:
        yield server


def publisher_for(fake: FakeMastodon, app: App, token: str | None = None, **options: float) -> MastodonPublisher:
    settings = app.settings.model_copy(update={
        "mastodon_instance_url": fake.base_url,
        "mastodon_access_token": SecretStr(token or fake.token)})
    return MastodonPublisher(settings, poll_s=0.01, **options)


def test_status_with_image_waits_for_processing_and_carries_its_key(
        sqlite_app: App, fake: FakeMastodon, tmp_path: Path) -> None:
    image = tmp_path / "grid.png"
    Image.new("RGB", (8, 8), "orange").save(image)
    post_id = queue(sqlite_app, "Fresh samples from the GAN", image, platforms=("mastodon",),
                    alt="An orange square")
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher_for(fake, sqlite_app)})
    sent = delivery(sqlite_app, post_id, "mastodon")
    [status] = fake.statuses
    assert sent.status == PostStatus.PUBLISHED and sent.external_id == status["url"]
    assert status["text_sent"] == "Fresh samples from the GAN #siggraphNOW"
    [media] = fake.media.values()
    assert media["bytes"] == image.read_bytes() and media["url"] is not None
    assert media["description"] == "An orange square"
    assert fake.calls("GET /api/v1/instance")  # the version decides the media API
    assert fake.calls("GET /api/v1/media/:id")  # polled until processed
    [create] = fake.calls(CREATE)
    assert create.headers["idempotency-key"].startswith(f"nowbot-{sent.id}-")


def test_timeout_after_accept_is_sent_again_with_its_key_and_made_once(
        sqlite_app: App, fake: FakeMastodon) -> None:
    publisher = publisher_for(fake, sqlite_app, timeout=0.5)
    post = add(sqlite_app, "Papers fast forward starts now", review=False, platforms=("mastodon",))
    fake.fail(CREATE, None, delay=2)  # created, answered too late
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.UNKNOWN
    publishing.reconcile(sqlite_app.sessions, {"mastodon": publisher})  # within the key's lifetime
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    sent = delivery(sqlite_app, post.id, "mastodon")
    assert sent.status == PostStatus.PUBLISHED and sent.external_id == fake.statuses[0]["url"]
    assert len(fake.statuses) == 1 and len(fake.calls(CREATE)) == 2  # the same key both times


def test_server_error_is_sent_again_with_its_key(sqlite_app: App, fake: FakeMastodon) -> None:
    publisher = publisher_for(fake, sqlite_app)
    post = add(sqlite_app, "Real-Time Live starts in ten minutes", review=False, platforms=("mastodon",))
    fake.fail(CREATE, 503)
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.UNKNOWN
    publishing.reconcile(sqlite_app.sessions, {"mastodon": publisher})
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.PUBLISHED
    assert len(fake.statuses) == 1


def test_after_the_keys_lifetime_an_unknown_status_is_found_by_its_text(
        sqlite_app: App, fake: FakeMastodon) -> None:
    publisher = publisher_for(fake, sqlite_app)
    post = add(sqlite_app, "Exhibition floor opens at ten & runs late", review=False,
               platforms=("mastodon",))
    attempted = utcnow() - timedelta(hours=2)  # the server has forgotten the key by now
    with sqlite_app.sessions.begin() as session:
        sent = session.get_one(Delivery, post.deliveries[0].id)
        sent.status, sent.attempted_at, sent.updated_at = PostStatus.UNKNOWN, attempted, attempted
    fake.add_status(sent.text, created_at=attempted + timedelta(seconds=5))  # as HTML, & escaped
    publishing.reconcile(sqlite_app.sessions, {"mastodon": publisher})
    found = delivery(sqlite_app, post.id, "mastodon")
    assert found.status == PostStatus.PUBLISHED and found.external_id == fake.statuses[0]["url"]
    assert fake.calls(CREATE) == []  # matched, not sent again


def test_rate_limit_waits_for_the_reset_without_asking_again(sqlite_app: App, fake: FakeMastodon) -> None:
    publisher = publisher_for(fake, sqlite_app)
    post = add(sqlite_app, "Volunteers meet at the desk", review=False, platforms=("mastodon",))
    fake.fail(CREATE, 429, reset_in=120)
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    waiting = delivery(sqlite_app, post.id, "mastodon")
    assert waiting.status == PostStatus.APPROVED and "rate limit" in (waiting.error or "")
    assert waiting.scheduled_for is not None
    with sqlite_app.sessions.begin() as session:
        session.get_one(Delivery, waiting.id).scheduled_for = None  # even when due again ...
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    assert len(fake.calls(CREATE)) == 1  # ... no request while the server said none remain


def test_bad_token_fails_without_leaking_it(sqlite_app: App, fake: FakeMastodon) -> None:
    publisher = publisher_for(fake, sqlite_app, token="wrong-s3cret")
    post = add(sqlite_app, "Course notes are online", review=False, platforms=("mastodon",))
    publishing.publish_due(sqlite_app.sessions, {"mastodon": publisher})
    failed = delivery(sqlite_app, post.id, "mastodon")
    assert failed.status == PostStatus.FAILED and "access token" in (failed.error or "")
    assert "s3cret" not in (failed.error or "") and fake.statuses == []


def test_text_fits_500_graphemes_with_links_as_23() -> None:
    assert post_length("hi https://example.org/a/very/long/path 👍🏽") == 5 + 23  # one emoji cluster
    fitted = fit_text("word " * 200, "#siggraphNOW")
    assert post_length(fitted) <= 500 and fitted.endswith("… #siggraphNOW")
