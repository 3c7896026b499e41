"""X: the campaign publisher (`publisher.py`) and X's text rules (`text.py`)."""

from bot.platforms.declaration import Platform

PLATFORM = Platform(
    name="x", publisher="bot.platforms.x.publisher:XPublisher",
    configured=lambda settings: settings.x_post_configured,
)
