"""Discord's message text: its length limit, and how a campaign post fits it."""

from __future__ import annotations

from bot.platforms.base import fit_with_hashtag

MESSAGE_CHARS = 2000


def fit_text(text: str, hashtag: str | None) -> str:
    """`text` with `hashtag` appended unless already present, shortened at a word to fit one message."""
    return fit_with_hashtag(text, hashtag, MESSAGE_CHARS)
