"""Mastodon: the campaign publisher (`publisher.py`, Mastodon.py) and Mastodon's text rules
(`text.py`)."""

from bot.platforms.declaration import Platform

PLATFORM = Platform(
    name="mastodon", publisher="bot.platforms.mastodon.publisher:MastodonPublisher",
    configured=lambda settings: settings.mastodon_configured,
)
