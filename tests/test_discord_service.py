"""The Discord adapter as the service runs it: sharding, the campaign channel publisher, the
`nowbot discord` CLI and its settings, against the fake Discord with the real discord.py client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot import generation
from bot.app import App
from bot.cli import app as cli
from bot.config import ConfigError, get_settings, load_settings
from bot.core.runtime import Runtime
from bot.platforms.base import Outgoing
from bot.platforms.discord.client import ShardedNowbotClient, build_client, start_discord
from fake_discord import FakeDiscord, Member, logged_in
from test_discord_commands import discord_app


def test_sharded_client_asks_for_shards_and_answers_on_the_right_one(sqlite_app: App) -> None:
    async def main() -> FakeDiscord:
        fake = FakeDiscord(shard_count=2)
        await fake.start()
        sharded = discord_app(sqlite_app, token=fake.token, auto_shard=True,
                              identify_spacing_s=0.2)  # one bucket: the second login waits
        client = build_client(Runtime(sharded, generation, {}), guild_ready_timeout=0.05)
        assert isinstance(client, ShardedNowbotClient)
        async with logged_in(fake, client, timeout=20):
            sent = await fake.send_interaction(fake.command("status", Member()))
            ack = await fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
            assert ack.json["type"] == 5
        await fake.close()
        return fake

    fake = asyncio.run(main())
    assert fake.calls_to(r"/gateway/bot")
    assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]


def test_campaign_posts_go_to_the_configured_channel(sqlite_app: App, tmp_path: Path) -> None:
    image = tmp_path / "post.png"
    image.write_bytes(b"\x89PNG fake image bytes")
    publishers: dict[str, Any] = {}

    async def main() -> FakeDiscord:
        fake = FakeDiscord()
        await fake.start()
        app = discord_app(sqlite_app, token=fake.token, campaign_channel_id=fake.channel_id)
        runtime = Runtime(app, generation, publishers)
        with fake.pointed_at():
            task = asyncio.create_task(start_discord(runtime, guild_ready_timeout=0.05))
            while "discord" not in publishers or not publishers["discord"].client.is_ready():
                await asyncio.sleep(0.01)
            publisher = publishers["discord"]
            item = Outgoing(delivery_id=7, post_id=7, text="Join us #siggraphNOW", image=image,
                            alt="An orange grid")
            message_id = await asyncio.to_thread(publisher.publish, item)
            recent = await asyncio.to_thread(publisher.recent_posts, 5)
            [mine] = recent  # the bot's own message, with the time Discord gives it
            assert (mine.external_id, mine.text) == (message_id, "Join us #siggraphNOW")
            assert mine.created_at is not None
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await fake.close()
        return fake

    fake = asyncio.run(main())
    [post] = fake.calls_to(rf"/channels/{fake.channel_id}/messages")[:1]
    assert post.method == "POST" and post.json["content"] == "Join us #siggraphNOW"
    assert [(f.filename, f.data) for f in post.files] == [("post.png", b"\x89PNG fake image bytes")]
    assert post.json["attachments"][0]["description"] == "An orange grid"  # the image's alt text
    assert publishers == {}  # unregistered when the adapter stops


def test_start_without_token_does_nothing(sqlite_app: App) -> None:
    publishers: dict[str, Any] = {}
    asyncio.run(start_discord(Runtime(sqlite_app, generation, publishers)))
    assert publishers == {}


@pytest.fixture
def fake_in_thread() -> Iterator[FakeDiscord]:
    """A fake Discord served from its own thread, for code that runs its own event loop."""
    loop = asyncio.new_event_loop()
    fake_box: list[FakeDiscord] = []

    async def start() -> None:
        fake_box.append(FakeDiscord())
        await fake_box[0].start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    with fake_box[0].pointed_at():
        yield fake_box[0]
    asyncio.run_coroutine_threadsafe(fake_box[0].close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """The CLI reads settings once per process: forget them around a CLI test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_sync_publishes_commands(fresh_settings: None, fake_in_thread: FakeDiscord,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOWBOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NOWBOT_DISCORD_TOKEN", fake_in_thread.token)
    result = CliRunner().invoke(cli, ["discord", "sync", "--guild", str(fake_in_thread.guild_id)])
    assert result.exit_code == 0, result.output
    assert "synced 11 commands to guild" in result.output
    [put] = fake_in_thread.calls_to(
        rf"/applications/{fake_in_thread.application_id}/guilds/{fake_in_thread.guild_id}/commands")
    tweet = next(command for command in put.json if command["name"] == "tweet")
    assert tweet["description"] == "Write a new tweet in a persona's voice."
    assert [o["name"] for o in tweet["options"]] == ["persona", "prompt", "temperature"]


def test_cli_without_token_fails_with_one_line(fresh_settings: None) -> None:
    result = CliRunner().invoke(cli, ["discord", "sync"])
    assert result.exit_code == 1
    assert "NOWBOT_DISCORD_TOKEN is not set" in result.output


def test_settings_read_comma_separated_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOWBOT_DISCORD_ADMIN_ROLE_IDS", "11, 22")
    monkeypatch.setenv("NOWBOT_DISCORD_COOLDOWN_SECONDS", "2.5")
    settings = load_settings()
    assert settings.discord_admin_role_ids == {11, 22}
    assert settings.discord_cooldown_seconds == 2.5
    monkeypatch.setenv("NOWBOT_DISCORD_OWNER_IDS", "12,abc")
    with pytest.raises(ConfigError, match="NOWBOT_DISCORD_OWNER_IDS: .*not 'abc'"):
        load_settings()


def test_every_discord_setting_loads_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "NOWBOT_DISCORD_TOKEN=bot-token\n"
        "NOWBOT_DISCORD_APPLICATION_ID=42\n"
        "NOWBOT_DISCORD_ADMIN_ROLE_IDS=11,22\n"
        "NOWBOT_DISCORD_ADMIN_USER_IDS=33\n"
        "NOWBOT_DISCORD_OWNER_IDS=44, 55\n"
        "NOWBOT_DISCORD_CAMPAIGN_CHANNEL_ID=66\n"
        "NOWBOT_DISCORD_AUTO_SHARD=true\n"
        "NOWBOT_DISCORD_SHARD_COUNT=2\n"
        "NOWBOT_DISCORD_COOLDOWN_SECONDS=1.5\n"
    )
    settings = load_settings()
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "bot-token"
    assert settings.discord_application_id == 42
    assert settings.discord_admin_role_ids == {11, 22}
    assert settings.discord_admin_user_ids == {33}
    assert settings.discord_owner_ids == {44, 55}
    assert settings.discord_campaign_channel_id == 66
    assert settings.discord_auto_shard and settings.discord_shard_count == 2
    assert settings.discord_cooldown_seconds == 1.5


def test_empty_discord_settings_in_dotenv_mean_defaults(tmp_path: Path) -> None:
    names = ["TOKEN", "APPLICATION_ID", "ADMIN_ROLE_IDS", "ADMIN_USER_IDS", "OWNER_IDS",
             "CAMPAIGN_CHANNEL_ID", "SHARD_COUNT"]
    (tmp_path / ".env").write_text("".join(f"NOWBOT_DISCORD_{name}=\n" for name in names))
    settings = load_settings()
    assert settings.discord_token is None and settings.discord_application_id is None
    assert settings.discord_admin_role_ids == frozenset() and settings.discord_shard_count is None


def test_an_adapter_that_stops_with_an_error_is_logged_and_started_again(
    sqlite_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> int:
        fake = FakeDiscord()
        await fake.start()
        app = discord_app(sqlite_app, token="a-revoked-token")  # every login is refused
        with fake.pointed_at():
            task = asyncio.create_task(start_discord(
                Runtime(app, generation, {}), backoff_s=0.05, guild_ready_timeout=0.05))
            for _ in range(200):
                if len(fake.calls_to(r"/users/@me")) >= 3:
                    break
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await fake.close()
        return len(fake.calls_to(r"/users/@me"))

    with caplog.at_level("ERROR", logger="nowbot.discord"):
        logins = asyncio.run(main())
    assert logins >= 3  # tried again, not dead after the first failure
    assert "Discord adapter stopped (LoginFailure" in caplog.text
    assert "a-revoked-token" not in caplog.text
