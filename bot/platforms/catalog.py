"""Every platform's publisher class by name, for its text rules where no publisher is at hand (a
draft is fitted to its platform, and reconciled by its platform's comparison, by name)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.platforms.base import Publisher
from bot.platforms.local.publisher import LocalPublisher

if TYPE_CHECKING:
    from bot.core.runtime import Runtime


def publisher_class(platform: str) -> type[Publisher]:
    """The publisher class of `platform`, imported on first use (each brings its client library)."""
    if platform == "x":
        from bot.platforms.x.publisher import XPublisher

        return XPublisher
    if platform == "discord":
        from bot.platforms.discord.publisher import DiscordPublisher

        return DiscordPublisher
    if platform == "mastodon":
        from bot.platforms.mastodon.publisher import MastodonPublisher

        return MastodonPublisher
    if platform == "bluesky":
        from bot.platforms.bluesky.publisher import BlueskyPublisher

        return BlueskyPublisher
    if platform == "local":
        from bot.platforms.local.publisher import LocalPublisher

        return LocalPublisher
    raise ValueError(f"no platform named {platform!r}")


Adapter = Callable[["Runtime"], Awaitable[None]]
"""A long-running coroutine that connects a platform (Discord, ...); cancelled on shutdown."""


def configured_adapters(settings: Settings) -> list[Adapter]:
    """The adapters whose credentials are configured. Adapters for new platforms go here."""
    adapters: list[Adapter] = []
    if settings.discord_token is not None:
        from bot.platforms.discord.client import start_discord

        adapters.append(start_discord)
    return adapters


def configured_publishers(settings: Settings) -> dict[str, Publisher]:
    """X, Mastodon and Bluesky where their credentials are set; the local outbox folder when none
    is (Discord adds itself when its client connects)."""
    publishers: dict[str, Publisher] = {}
    if settings.x_post_configured:
        from bot.platforms.x.publisher import XPublisher

        publishers["x"] = XPublisher(settings)
    if settings.mastodon_configured:
        from bot.platforms.mastodon.publisher import MastodonPublisher

        publishers["mastodon"] = MastodonPublisher(settings)
    if settings.bluesky_configured:
        from bot.platforms.bluesky.publisher import BlueskyPublisher

        publishers["bluesky"] = BlueskyPublisher(settings)
    return publishers or {"local": LocalPublisher(settings.data_dir / "outbox")}
