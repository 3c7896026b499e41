"""X's text rules: its weighted length, and how it shows a post (entities escaped, t.co links
for media appended)."""

from __future__ import annotations

import html
import re

from bot.platforms.base import collapsed, fit_with_hashtag

POST_LIMIT = 280
LINK_LENGTH = 23  # every link counts as a t.co link, whatever its own length
_LINKS = re.compile(r"https?://\S+", re.IGNORECASE)
_MEDIA_LINKS = re.compile(r"(\s*https://t\.co/\S+)+\s*$")


def _weight(char: str) -> int:
    """X's weighted length (twitter-text v3): most Latin and punctuation count 1, the rest 2."""
    point = ord(char)
    light = point <= 4351 or 8192 <= point <= 8205 or 8208 <= point <= 8223 or 8242 <= point <= 8247
    return 1 if light else 2


def x_length(text: str) -> int:
    """The length X counts against its 280-character limit (emoji and CJK count double)."""
    return sum(_weight(char) for char in text)


def post_length(text: str) -> int:
    """The length X counts for a post a person wrote: `x_length`, with every link as
    `LINK_LENGTH` (X shortens links to t.co)."""
    links = _LINKS.findall(text)
    return x_length(_LINKS.sub("", text)) + LINK_LENGTH * len(links)


def post_url(external_id: str) -> str:
    """The address of the post `external_id` on X."""
    return f"https://x.com/i/web/status/{external_id}"


def fit_text(text: str, hashtag: str | None) -> str:
    """`text` with `hashtag` appended unless already present, shortened at a word to fit X's
    weighted `POST_LIMIT`."""
    return fit_with_hashtag(text, hashtag, POST_LIMIT, _weight)


def normalized(text: str) -> str:
    """Text as compared in reconciliation: X escapes entities and appends t.co media links."""
    return collapsed(_MEDIA_LINKS.sub("", html.unescape(text)))
