"""The local outbox folder: where posts go when no platform is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.declaration import Platform

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms.local.publisher import LocalPublisher


def outbox(settings: Settings) -> LocalPublisher:
    """The publisher writing to the data folder's `outbox/`."""
    from bot.platforms.local.publisher import LocalPublisher

    return LocalPublisher(settings.data_dir / "outbox")


PLATFORM = Platform(name="local", publisher="bot.platforms.local.publisher:LocalPublisher",
                    builder="bot.platforms.local:outbox", fallback=True)
