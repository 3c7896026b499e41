"""Mastodon's text rules: 500 characters counted as grapheme clusters with every link as 23, and
statuses read back as HTML."""

from __future__ import annotations

import html
import re

from bot.platforms.base import clusters, collapsed, fit_with_hashtag, graphemes, linked_length

POST_LIMIT = 500  # the default of a Mastodon server (some allow more)
LINK_LENGTH = 23  # Mastodon counts every link as 23 characters, as X does
_BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def post_length(text: str) -> int:
    """The length Mastodon counts against its limit."""
    return linked_length(text, LINK_LENGTH, graphemes)


def fit_text(text: str, hashtag: str | None) -> str:
    """`text` with `hashtag` appended unless already present, shortened at a word to fit
    `POST_LIMIT` (no grapheme cluster cut in two)."""
    return fit_with_hashtag(text, hashtag, POST_LIMIT, units=clusters)


def plain(content: str) -> str:
    """A status's HTML `content` as the text that was posted (line breaks as spaces)."""
    return html.unescape(_TAGS.sub("", _BREAKS.sub(" ", content)))


def normalized(text: str) -> str:
    """Text as compared in reconciliation: a status reads back as HTML, a sent text as written."""
    return collapsed(plain(text) if text.lstrip().startswith("<p>") else text)
