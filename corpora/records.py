"""The one shape every tweet source is read into before cleaning and storing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RawTweet:
    """A post as read from a file or the X API, before cleaning.

    `source_id` is the X status id when the source kept it, else None (then a hash of the text
    stands in). `is_reply` is set when the source says so (archives, the API); text starting with
    `@` counts as a reply too. `place` says where it came from, for error messages ("line 12").
    """

    text: str
    source_id: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    is_reply: bool = False
    place: str | None = None
    raw_hash: str | None = None  # text_hash of the text as read, set by cleaning


def text_hash(text: str) -> str:
    """Stable identity of a post's text, used to de-duplicate a persona's corpus."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


def loose_key(text: str) -> str:
    """A post's identity across cleaning rules: its letters and digits only, case-folded, so a
    re-import under new rules (a dangling separator trimmed, an escaped quote undone) finds it."""
    return "".join(char for char in text.casefold() if char.isalnum())


def loose_hash(text: str) -> str | None:
    """The stored, indexed form of `loose_key` (None for a post without letters or digits)."""
    key = loose_key(text)
    return hashlib.sha256(key.encode("utf-8")).hexdigest() if key else None
