"""Every platform's publisher class by name, for its text rules where no publisher is at hand (a
draft is fitted to its platform, and reconciled by its platform's comparison, by name)."""

from __future__ import annotations

from bot.platforms.base import Publisher


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
