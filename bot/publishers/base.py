"""What the outbox asks of a platform: publish one post, and list what the account posted lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


class PublishError(Exception):
    """Base of publishing outcomes other than success; `str()` is a one-line reason."""


class NotSent(PublishError):
    """The platform certainly did not create the post (nothing sent, or it refused the request).

    `retry_after` says when trying again makes sense (a rate limit's reset), if known.
    """

    def __init__(self, reason: str, retry_after: datetime | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Rejected(PublishError):
    """The platform refused the post for good (bad credentials, forbidden content)."""


class OutcomeUnknown(PublishError):
    """The request may have gone through (timeout, dropped connection, server error):
    reconcile against the account's recent posts, never retry blindly."""


@dataclass(frozen=True)
class RemotePost:
    """A post as the platform shows it."""

    external_id: str
    text: str


class Publisher(Protocol):
    """One platform the outbox publishes to."""

    platform: str
    cost_per_post_usd: float
    monthly_budget_usd: float | None

    def publish(self, post_id: int, text: str, image: Path | None) -> str:
        """Create the post; return its id on the platform. Raises a `PublishError` subclass."""
        ...

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The account's newest posts, newest first (for reconciliation)."""
        ...
