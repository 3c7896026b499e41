"""Bluesky: the campaign publisher (`publisher.py`, atproto) and Bluesky's text rules and record
keys (`text.py`)."""

from bot.platforms.declaration import Platform

PLATFORM = Platform(
    name="bluesky", publisher="bot.platforms.bluesky.publisher:BlueskyPublisher",
    configured=lambda settings: settings.bluesky_configured,
)
