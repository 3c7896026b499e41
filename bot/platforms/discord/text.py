"""Discord's message limits, and how a campaign post fits a message."""

from __future__ import annotations

import re

from bot.platforms.base import fit_with_hashtag

MESSAGE_CHARS = 2000
QUEUE_PAGE = 5  # a message holds five rows of buttons: one post per row
SUGGESTIONS = 25  # autocomplete shows at most 25 choices


def fit_text(text: str, hashtag: str | None) -> str:
    """`text` with `hashtag` appended unless already present, shortened at a word to fit one message."""
    return fit_with_hashtag(text, hashtag, MESSAGE_CHARS)


PINGS = re.compile(r"<@[!&]?\d+>|<#\d+>")  # user, role and channel mentions
EVERYONE = re.compile(r"@(everyone|here)\b", re.IGNORECASE)


def defuse(text: str) -> str:
    """`text` that pings no one: user, role and channel mentions removed, @everyone and @here
    broken with a zero-width space (the client also sends no allowed mentions)."""
    return EVERYONE.sub("@\u200b\\1", PINGS.sub("", text))
