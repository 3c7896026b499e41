"""Publishing through the real atproto client against the fake Bluesky PDS on 127.0.0.1."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_bluesky import FakeBluesky
from PIL import Image
from pydantic import SecretStr

from bot import publishing
from bot.app import App
from bot.platforms.bluesky.publisher import BLOB_LIMIT, BlueskyPublisher
from bot.platforms.bluesky.text import fit_text, post_length, post_url
from storage.outbox import PostStatus
from test_outbox import add, delivery
from test_publish_x import queue

CREATE = "com.atproto.repo.createRecord"


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


def publisher_for(fake: FakeBluesky, app: App, password: str | None = None, **options: float) -> BlueskyPublisher:
    settings = app.settings.model_copy(update={
        "bluesky_handle": fake.handle, "bluesky_app_password": SecretStr(password or fake.password),
        "bluesky_service_url": fake.base_url})
    return BlueskyPublisher(settings, **options)


def test_post_with_image_and_alt_under_its_record_key_and_the_session_is_reused(
        sqlite_app: App, fake: FakeBluesky, tmp_path: Path) -> None:
    image = tmp_path / "big.png"
    Image.effect_noise((1100, 1100), 90).convert("RGB").save(image)  # over the blob limit as PNG
    assert image.stat().st_size > BLOB_LIMIT
    post_id = queue(sqlite_app, "Fresh samples from the GAN", image, platforms=("bluesky",),
                    alt="Grey noise")
    publisher = publisher_for(fake, sqlite_app)
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    sent = delivery(sqlite_app, post_id, "bluesky")
    [(rkey, record)] = fake.records.items()
    assert sent.status == PostStatus.PUBLISHED and sent.external_id == f"at://{fake.did}/app.bsky.feed.post/{rkey}"
    assert record["text"] == "Fresh samples from the GAN #siggraphNOW"
    assert record["embed"]["images"][0]["alt"] == "Grey noise"
    assert len(fake.blobs) == 1 and len(fake.blobs[0]) <= BLOB_LIMIT  # re-encoded to fit
    session = publisher.session_file
    assert stat.S_IMODE(session.stat().st_mode) == 0o600 and fake.password not in session.read_text()
    again = publisher_for(fake, sqlite_app)  # a restart: the saved session, no second login
    second = add(sqlite_app, "Demos at ten", review=False, platforms=("bluesky",))
    publishing.publish_due(sqlite_app.sessions, {"bluesky": again})
    assert delivery(sqlite_app, second.id, "bluesky").status == PostStatus.PUBLISHED
    assert fake.logins == 1
    fake.expire_tokens()  # the saved session stops working: one new login, then on
    third = add(sqlite_app, "Posters at noon", review=False, platforms=("bluesky",))
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher_for(fake, sqlite_app)})
    assert delivery(sqlite_app, third.id, "bluesky").status == PostStatus.PUBLISHED and fake.logins == 2


def test_timeout_after_accept_finds_the_record_by_its_key_instead_of_posting_again(
        sqlite_app: App, fake: FakeBluesky) -> None:
    publisher = publisher_for(fake, sqlite_app, timeout=0.5)
    post = add(sqlite_app, "Papers fast forward starts now", review=False, platforms=("bluesky",))
    fake.fail(CREATE, None, delay=2)  # created, answered too late
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    assert delivery(sqlite_app, post.id, "bluesky").status == PostStatus.UNKNOWN
    publishing.reconcile(sqlite_app.sessions, {"bluesky": publisher})
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    found = delivery(sqlite_app, post.id, "bluesky")
    assert found.status == PostStatus.PUBLISHED and len(fake.records) == 1
    assert fake.count(CREATE) == 1  # looked up, not created again


def test_server_error_then_sent_again(sqlite_app: App, fake: FakeBluesky) -> None:
    publisher = publisher_for(fake, sqlite_app)
    post = add(sqlite_app, "Real-Time Live in ten minutes", review=False, platforms=("bluesky",))
    fake.fail(CREATE, 502)
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    assert delivery(sqlite_app, post.id, "bluesky").status == PostStatus.UNKNOWN
    publishing.reconcile(sqlite_app.sessions, {"bluesky": publisher})
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    assert delivery(sqlite_app, post.id, "bluesky").status == PostStatus.PUBLISHED
    assert len(fake.records) == 1


def test_rate_limit_waits_for_its_reset(sqlite_app: App, fake: FakeBluesky) -> None:
    publisher = publisher_for(fake, sqlite_app)
    post = add(sqlite_app, "Volunteers meet at the desk", review=False, platforms=("bluesky",))
    fake.fail(CREATE, 429, reset_in=300)
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    waiting = delivery(sqlite_app, post.id, "bluesky")
    assert waiting.status == PostStatus.APPROVED and waiting.scheduled_for is not None
    assert "rate limit" in (waiting.error or "") and fake.records == {}


def test_bad_app_password_fails_without_leaking_it(sqlite_app: App, fake: FakeBluesky) -> None:
    publisher = publisher_for(fake, sqlite_app, password="wrong-s3cret")
    post = add(sqlite_app, "Course notes are online", review=False, platforms=("bluesky",))
    publishing.publish_due(sqlite_app.sessions, {"bluesky": publisher})
    failed = delivery(sqlite_app, post.id, "bluesky")
    assert failed.status == PostStatus.FAILED and "app password" in (failed.error or "")
    assert "s3cret" not in (failed.error or "") and fake.records == {}


def test_text_fits_300_graphemes_and_addresses_are_bsky_app() -> None:
    flags = "🇫🇷" * 400  # one grapheme, two code points each
    fitted = fit_text(flags, "#siggraphNOW")
    assert post_length(fitted) <= 300 and fitted.endswith("… #siggraphNOW") and "\U0001f1eb…" not in fitted
    assert post_url("at://did:plc:abc/app.bsky.feed.post/3k2") == "https://bsky.app/profile/did:plc:abc/post/3k2"
