"""What the outbox asks of a platform: publish one post, list what the account posted lately, and
the platform's text rules (how a post's text fits it, and how reconciliation compares texts)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import regex


NEVER = timedelta(0)
ALWAYS = timedelta.max
_URLS = re.compile(r"https?://\S+", re.IGNORECASE)


class PublishError(Exception):
    """Base of publishing outcomes other than success; `str()` is a one-line reason."""


class NotSent(PublishError):
    """The platform certainly did not create the post (nothing sent, or it refused the request).

    `retry_after` says when trying again makes sense (a rate limit's reset), if known.
    """

    def __init__(self, reason: str, retry_after: datetime | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@contextmanager
def nothing_created(platform: str, step: str) -> Iterator[None]:
    """Wrap a step that comes before the post's own create request (connecting, logging in,
    uploading an image): whatever it raises, the post cannot exist, so an error not already
    sorted becomes `NotSent` (a library's `RecursionError` included)."""
    try:
        yield
    except PublishError:
        raise
    except Exception as error:  # noqa: BLE001  (sorted by what the request could have done)
        raise NotSent(f"{step} on {platform} failed: {type(error).__name__}") from None


class Rejected(PublishError):
    """The platform refused the post for good (bad credentials, forbidden content)."""


class OutcomeUnknown(PublishError):
    """The request may have gone through (timeout, dropped connection, server error):
    reconcile against the account's recent posts, never retry blindly."""


@dataclass(frozen=True)
class Outgoing:
    """One post's delivery to one platform, as its publisher is handed it.

    `key` is the delivery's own, the same on every attempt: a platform that can deduplicate
    (Mastodon's Idempotency-Key, Bluesky's record key) derives its key from it. `alt` describes
    the image for screen readers.
    """

    delivery_id: int
    post_id: int
    text: str
    image: Path | None = None
    alt: str | None = None
    key: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class RemotePost:
    """A post as the platform shows it (`created_at`: when the platform says it was made)."""

    external_id: str
    text: str
    created_at: datetime | None = None


class Publisher(Protocol):
    """One platform the outbox publishes to.

    The text rules are static: a draft's text is fitted by its platform's name (`catalog`), also
    when no publisher of that platform is connected.
    """

    platform: str
    cost_per_post_usd: float
    monthly_budget_usd: float | None
    resend_safe_for: timedelta
    """How long after an attempt the platform itself recognises the same delivery sent again by
    its key (`timedelta(0)`: never; `ALWAYS`: the publisher looks it up before creating it)."""

    def publish(self, item: Outgoing) -> str:
        """Create the post; return its id on the platform. Raises a `PublishError` subclass."""
        ...

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The account's newest posts, newest first (for reconciliation)."""
        ...

    @staticmethod
    def fit_text(text: str, hashtag: str | None) -> str:
        """A post's text as this platform takes it: `hashtag` added unless present, cut to fit."""
        ...

    text_limit: int
    """The longest post the platform takes, in `text_length` units."""

    @staticmethod
    def text_length(text: str) -> int:
        """`text`'s length as the platform counts it against `text_limit`."""
        ...

    @staticmethod
    def normalized(text: str) -> str:
        """`text` as reconciliation compares it, so that a sent post matches its copy on the platform."""
        ...

    @staticmethod
    def post_url(external_id: str) -> str | None:
        """Where a person can see the published post `external_id`, when the platform gives an
        address for it (`no_address` otherwise)."""
        ...


def no_address(external_id: str) -> None:
    """`post_url` of a platform whose posts have no address of their own."""
    return None


def fit_with_hashtag(text: str, hashtag: str | None, limit: int,
                     weight: Callable[[str], int] = lambda unit: 1,
                     units: Callable[[str], list[str]] = list) -> str:
    """`text` with runs of whitespace made single spaces and `hashtag` appended unless already
    present, shortened at a word (with an ellipsis) so that its length, the sum of the `weight`
    of each of its `units` (characters by default; grapheme clusters for some platforms, so that
    none is cut in two), fits `limit`."""

    def length(part: str) -> int:
        return sum(weight(unit) for unit in units(part))

    text = " ".join(text.split())
    suffix = ""
    if hashtag and not re.search(re.escape(hashtag) + r"(?!\w)", text, re.IGNORECASE):
        suffix = " " + hashtag
    room = limit - length(suffix)
    if length(text) > room:
        kept, used = [], 0
        for unit in units(text):
            if used + weight(unit) > room - length("…"):
                break
            kept.append(unit)
            used += weight(unit)
        cut = "".join(kept)
        if " " in cut[len(cut) // 2:]:
            cut = cut[: cut.rindex(" ")]
        text = cut.rstrip(" .,;:-") + "…"
    return text + suffix


def collapsed(text: str) -> str:
    """`text` in Unicode NFC with runs of whitespace made single spaces: a platform that shows a
    post as it was sent needs no more to compare texts."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def graphemes(text: str) -> int:
    """The number of user-perceived characters (extended grapheme clusters) in `text`: a flag,
    an emoji with a skin tone or a letter with combining accents is one."""
    return len(clusters(text))


def clusters(text: str) -> list[str]:
    """`text` split into its extended grapheme clusters."""
    return regex.findall(r"\X", text)


def linked_length(text: str, link_length: int, count: Callable[[str], int]) -> int:
    """`text`'s length with every link counted as `link_length` and the rest by `count`."""
    links = _URLS.findall(text)
    return count(_URLS.sub("", text)) + link_length * len(links)
