"""The catalog finds each platform by its folder's declaration: exactly the folders there are, a new
one without any list to edit, none of their client libraries loaded until used; and a worker that
holds no Discord gateway publishes to Discord over REST, with the delivery's nonce."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fake_discord import FakeDiscord

import bot.platforms
from bot import outbox, publishing
from bot.app import App
from bot.config import Settings
from bot.platforms import catalog
from bot.platforms.base import Rejected
from bot.platforms.local.publisher import LocalPublisher
from storage.outbox import PostStatus
from test_outbox import add, delivery, status

FOLDERS = {"x", "mastodon", "bluesky", "discord", "local"}
CLIENT_LIBRARIES = ("tweepy", "mastodon", "atproto", "discord")
API_CREDENTIALS: dict[str, Any] = {
    "x_consumer_key": "ck", "x_consumer_secret": "cs", "x_access_token": "at",
    "x_access_token_secret": "as", "mastodon_instance_url": "http://127.0.0.1:9",
    "mastodon_access_token": "token", "bluesky_handle": "nowbot.test",
    "bluesky_app_password": "app-password",
}
DISCORD_CREDENTIALS: dict[str, Any] = {"discord_token": "token", "discord_campaign_channel_id": 42}


def test_catalog_lists_exactly_the_platform_folders() -> None:
    root = Path(bot.platforms.__file__).parent
    folders = {path.name for path in root.iterdir() if (path / "__init__.py").is_file()}
    assert folders == FOLDERS
    assert set(catalog.platforms()) == folders
    for name in folders:
        assert catalog.publisher_class(name).platform == name
    with pytest.raises(ValueError, match="no platform named 'myspace'"):
        catalog.publisher_class("myspace")


def test_each_declaration_is_configured_and_built_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, **API_CREDENTIALS, **DISCORD_CREDENTIALS)
    for name, declared in catalog.platforms().items():
        assert declared.configured(settings) == (name != "local")
        publisher = declared.build(settings)
        assert publisher.platform == name
        assert isinstance(publisher, declared.publisher_class())
    bare = Settings(data_dir=tmp_path)
    assert not any(declared.configured(bare) for declared in catalog.platforms().values())


def test_configured_publishers_follow_the_settings(tmp_path: Path) -> None:
    bare = Settings(data_dir=tmp_path)
    local = catalog.configured_publishers(bare)
    assert list(local) == ["local"]
    assert isinstance(local["local"], LocalPublisher)
    assert local["local"].folder == tmp_path / "outbox"
    assert catalog.configured_adapters(bare) == []

    every = Settings(data_dir=tmp_path, **API_CREDENTIALS, **DISCORD_CREDENTIALS)
    assert set(catalog.configured_publishers(every)) == {"x", "mastodon", "bluesky"}
    assert set(catalog.configured_publishers(every, chat=True)) == {
        "x", "mastodon", "bluesky", "discord"}

    discord_only = Settings(data_dir=tmp_path, **DISCORD_CREDENTIALS)
    assert set(catalog.configured_publishers(discord_only)) == {"local"}  # the client adds Discord
    assert set(catalog.configured_publishers(discord_only, chat=True)) == {"local", "discord"}
    from bot.platforms.discord.client import start_discord

    assert catalog.configured_adapters(discord_only) == [start_discord]
    token_only = Settings(data_dir=tmp_path, discord_token="token")
    assert catalog.configured_adapters(token_only) == [start_discord]
    assert set(catalog.configured_publishers(token_only, chat=True)) == {"local"}


def _package(root: Path, *folders: str) -> Any:
    """A fresh package under `root` with a platform declared in each of `folders`."""
    name = f"platforms_{uuid.uuid4().hex[:8]}"
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "helpers.py").write_text("")  # a module, not a platform
    for folder in folders:
        _platform(root / name, folder)
    return importlib.import_module(name)


def _platform(package: Path, folder: str, declaration: str | None = None) -> None:
    (package / folder).mkdir()
    (package / folder / "publisher.py").write_text(textwrap.dedent(f"""
        class Publisher:
            platform = {folder!r}
            def __init__(self, settings):
                self.settings = settings
    """))
    (package / folder / "__init__.py").write_text(declaration if declaration is not None else (
        "from bot.platforms.declaration import Platform\n"
        f"PLATFORM = Platform(name={folder!r}, publisher=__name__ + '.publisher:Publisher',\n"
        "                    configured=lambda settings: True)\n"))


def test_a_new_platform_folder_is_found_without_other_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _package(tmp_path, "alpha")
    assert list(catalog.discover(package)) == ["alpha"]
    _platform(Path(package.__path__[0]), "omega")
    importlib.invalidate_caches()
    found = catalog.discover(package)
    assert list(found) == ["alpha", "omega"]
    settings = Settings(data_dir=tmp_path)
    assert found["omega"].build(settings).settings is settings
    assert found["omega"].load_adapter() is None


def test_a_folder_that_declares_nothing_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _package(tmp_path)
    _platform(Path(package.__path__[0]), "beta", declaration="")
    with pytest.raises(TypeError, match=r"\.beta must declare PLATFORM = Platform\(name='beta'"):
        catalog.discover(package)


def test_help_and_the_catalog_load_no_client_library(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from bot.cli import main
        sys.argv = ["nowbot", "--help"]
        try:
            main()
        except SystemExit:
            pass
        from bot.config import Settings
        from bot.platforms import catalog
        settings = Settings(data_dir={str(tmp_path)!r})
        assert set(catalog.platforms()) == {FOLDERS!r}
        assert catalog.configured_adapters(settings) == []
        assert list(catalog.configured_publishers(settings)) == ["local"]
        print("LOADED", [name for name in {CLIENT_LIBRARIES!r} if name in sys.modules])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=True)
    assert "Usage: nowbot" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"


@contextmanager
def fake_discord_elsewhere() -> Iterator[FakeDiscord]:
    """A fake Discord served from its own thread's loop, discord.py pointed at it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeDiscord()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    try:
        with fake.pointed_at():
            yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _discord_settings(app: App, fake: FakeDiscord, token: str) -> Settings:
    return Settings(**{**app.settings.model_dump(), "discord_token": token,
                       "discord_campaign_channel_id": fake.channel_id})


def test_a_worker_publishes_to_discord_without_a_gateway_with_the_delivery_nonce(app: App) -> None:
    from bot.platforms.discord.publisher import RestDiscordPublisher, nonce

    with fake_discord_elsewhere() as fake:
        publishers = catalog.configured_publishers(_discord_settings(app, fake, fake.token),
                                                   chat=True)
        discord = publishers["discord"]
        assert isinstance(discord, RestDiscordPublisher)
        try:
            post = add(app, "Posters go up at noon", platforms=("discord",))
            outbox.approve(app.sessions, post.id, reviewer="ana")
            publishing.publish_due(app.sessions, publishers)  # from this plain thread
            publishing.publish_due(app.sessions, publishers)  # nothing left
            assert status(app, post.id).status == PostStatus.PUBLISHED
            sent = [call for call in fake.calls_to(rf"/channels/{fake.channel_id}/messages")
                    if call.method == "POST"]
            assert [call.json["content"] for call in sent] == ["Posters go up at noon #siggraphNOW"]
            with app.sessions() as session:
                item = publishing.outgoing(session, delivery(app, post.id, "discord"))
            assert sent[0].json["nonce"] == nonce(item) and sent[0].json["enforce_nonce"] is True
            assert [p.external_id for p in discord.recent_posts(5)] == [
                delivery(app, post.id, "discord").external_id]

            discord.publish(item)  # the same delivery sent again carries the same nonce
            again = fake.calls_to(rf"/channels/{fake.channel_id}/messages")[-1]
            assert again.method == "POST" and again.json["nonce"] == nonce(item)
            assert fake.identifies == []  # no gateway connection was ever opened
        finally:
            discord.close()


def test_a_wrong_discord_token_is_rejected_before_anything_is_sent(sqlite_app: App) -> None:
    with fake_discord_elsewhere() as fake:
        discord = catalog.platforms()["discord"].build(
            _discord_settings(sqlite_app, fake, "not-the-token"))
        post = add(sqlite_app, "Keynote at ten", platforms=("discord",))
        try:
            with sqlite_app.sessions() as session:
                item = publishing.outgoing(session, delivery(sqlite_app, post.id, "discord"))
            with pytest.raises(Rejected, match="NOWBOT_DISCORD_TOKEN"):
                discord.publish(item)
        finally:
            discord.close()  # type: ignore[attr-defined]
        assert fake.calls_to(rf"/channels/{fake.channel_id}/messages") == []
