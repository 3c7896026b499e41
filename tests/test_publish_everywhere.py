"""One approved post delivered to X, Mastodon, Bluesky and Discord through their real clients and
fakes: once each, a failure on one platform leaving the others published and only that one
retried, and a process killed mid-request sending nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fake_bluesky import FakeBluesky
from fake_discord import FakeDiscord
from fake_mastodon import FakeMastodon
from fake_x import FakeX

from bot import generation, outbox, publishing
from bot.app import App, open_app
from bot.core.runtime import Runtime
from bot.platforms.discord.client import start_discord
from storage.outbox import PostStatus
from test_discord_commands import discord_app
from test_outbox import add, delivery, status
from test_publish_bluesky import publisher_for as bluesky_publisher
from test_publish_mastodon import publisher_for as mastodon_publisher
from test_publish_x import REPO
from test_publish_x import publisher_for as x_publisher

API = ("x", "mastodon", "bluesky")


@pytest.fixture
def fakes() -> Iterator[tuple[FakeX, FakeMastodon, FakeBluesky]]:
    with FakeX() as x, FakeMastodon() as mastodon, FakeBluesky() as bluesky:
        yield x, mastodon, bluesky


def publishers(app: App, fakes: tuple[FakeX, FakeMastodon, FakeBluesky], **options: float) -> dict[str, Any]:
    x, mastodon, bluesky = fakes
    return {"x": x_publisher(x, app.settings), "mastodon": mastodon_publisher(mastodon, app, **options),
            "bluesky": bluesky_publisher(bluesky, app, **options)}


def test_one_post_reaches_x_mastodon_bluesky_and_discord_once_each(sqlite_app: App, fakes: Any) -> None:
    x, mastodon, bluesky = fakes
    reached: dict[str, Any] = publishers(sqlite_app, fakes)

    async def main() -> FakeDiscord:
        discord = FakeDiscord()
        await discord.start()
        app = discord_app(sqlite_app, token=discord.token, campaign_channel_id=discord.channel_id)
        with discord.pointed_at():
            task = asyncio.create_task(start_discord(Runtime(app, generation, reached), guild_ready_timeout=0.05))
            while "discord" not in reached or not reached["discord"].client.is_ready():
                await asyncio.sleep(0.01)
            post = add(app, "Papers fast forward tonight", platforms=tuple(reached))
            outbox.approve(app.sessions, post.id, reviewer="ana")
            await asyncio.to_thread(publishing.publish_due, app.sessions, reached)
            await asyncio.to_thread(publishing.publish_due, app.sessions, reached)  # nothing left
            assert status(app, post.id).status == PostStatus.PUBLISHED
            assert {d.platform: d.status for d in status(app, post.id).deliveries} == dict.fromkeys(
                ("x", "mastodon", "bluesky", "discord"), PostStatus.PUBLISHED)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await discord.close()
        return discord

    discord = asyncio.run(main())
    text = "Papers fast forward tonight #siggraphNOW"
    assert [t.text for t in x.posted] == [text]
    assert [s["text_sent"] for s in mastodon.statuses] == [text]
    assert bluesky.posted_texts() == [text]
    sent = [c for c in discord.calls_to(rf"/channels/{discord.channel_id}/messages") if c.method == "POST"]
    assert [c.json["content"] for c in sent] == [text]


def test_a_failure_on_one_platform_is_retried_there_only(sqlite_app: App, fakes: Any) -> None:
    x, mastodon, bluesky = fakes
    reached = publishers(sqlite_app, fakes)
    post = add(sqlite_app, "Exhibition opens at ten", review=False, platforms=API)
    x.fail("POST /2/tweets", 403)  # X refuses it for good
    publishing.publish_due(sqlite_app.sessions, reached)
    assert status(sqlite_app, post.id).status == PostStatus.FAILED
    assert delivery(sqlite_app, post.id, "x").status == PostStatus.FAILED
    assert {delivery(sqlite_app, post.id, p).status for p in ("mastodon", "bluesky")} == {PostStatus.PUBLISHED}
    outbox.approve(sqlite_app.sessions, post.id, reviewer="ana")  # retry: X only
    assert delivery(sqlite_app, post.id, "mastodon").status == PostStatus.PUBLISHED
    publishing.publish_due(sqlite_app.sessions, reached)
    assert status(sqlite_app, post.id).status == PostStatus.PUBLISHED
    assert len(x.posted) == len(mastodon.statuses) == len(bluesky.records) == 1
    assert len(mastodon.calls("POST /api/v1/statuses")) == 1 and bluesky.count("com.atproto.repo.createRecord") == 1


KILLED = textwrap.dedent("""
    import sys, types
    from fake_x import attach
    from pydantic import SecretStr
    from bot import publishing
    from bot.app import open_app
    from bot.config import Settings
    from bot.platforms.mastodon.publisher import MastodonPublisher
    from bot.platforms.bluesky.publisher import BlueskyPublisher

    url, platform, base_url, delivery_id, data_dir = sys.argv[1:6]
    settings = Settings(database_url=url, data_dir=data_dir, mastodon_instance_url=base_url,
                        mastodon_access_token="fake-mastodon-token", bluesky_handle="nowbot.test",
                        bluesky_app_password="fake-app-password", bluesky_service_url=base_url)
    publisher = (MastodonPublisher if platform == "mastodon" else BlueskyPublisher)(settings, timeout=60)
    publishing.publish_delivery(open_app(settings).sessions, int(delivery_id), publisher)
""")


@pytest.mark.parametrize("platform", ["mastodon", "bluesky"])
def test_kill_between_request_and_commit_posts_once(sqlite_app: App, fakes: Any, platform: str) -> None:
    _, mastodon, bluesky = fakes
    fake, route = ((mastodon, "POST /api/v1/statuses") if platform == "mastodon"
                   else (bluesky, "com.atproto.repo.createRecord"))
    post = add(sqlite_app, "Birds of a feather: open renderers", review=False, platforms=(platform,))
    fake.fail(route, None, delay=60)  # made, but the answer never comes in time
    made = (lambda: mastodon.statuses) if platform == "mastodon" else (lambda: bluesky.records)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    child = subprocess.Popen([sys.executable, "-c", KILLED, sqlite_app.settings.resolved_database_url,
                              platform, fake.base_url, str(post.deliveries[0].id),
                              str(sqlite_app.settings.data_dir)], env=env)
    deadline = time.monotonic() + 60
    while not made() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(made()) == 1 and delivery(sqlite_app, post.id, platform).status == PostStatus.PUBLISHING
    restarted = open_app(sqlite_app.settings)  # what the leader does on start, then outbox runs
    assert publishing.mark_interrupted(restarted.sessions) == 1
    reached = publishers(restarted, fakes)
    for _ in range(2):
        publishing.reconcile(restarted.sessions, reached)
        publishing.publish_due(restarted.sessions, reached)
    assert delivery(sqlite_app, post.id, platform).status == PostStatus.PUBLISHED
    assert len(made()) == 1  # never twice
    restarted.engine.dispose()
