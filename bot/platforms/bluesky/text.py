"""Bluesky's text rules (300 grapheme clusters, links counted in full), its post addresses, and the
record key each delivery is created under."""

from __future__ import annotations

from bot.platforms.base import Outgoing, clusters, collapsed, fit_with_hashtag, graphemes

POST_LIMIT = 300  # grapheme clusters
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable

post_length = graphemes
normalized = collapsed  # records read back as they were written


def fit_text(text: str, hashtag: str | None) -> str:
    """`text` with `hashtag` appended unless already present, shortened at a word to fit
    `POST_LIMIT` graphemes (no cluster cut in two)."""
    return fit_with_hashtag(text, hashtag, POST_LIMIT, units=clusters)


def record_key(item: Outgoing) -> str:
    """The delivery's record key: a TID (13 base32-sortable characters of 53 bits of microseconds
    and a 10-bit clock id) made from its creation time and id, the same on every attempt."""
    assert item.created_at is not None
    value = (int(item.created_at.timestamp() * 1_000_000) << 10) | (item.delivery_id % 1024)
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def post_url(external_id: str) -> str | None:
    """The bsky.app address of the post `at://DID/app.bsky.feed.post/KEY`."""
    parts = external_id.removeprefix("at://").split("/")
    if not external_id.startswith("at://") or len(parts) != 3:
        return None
    return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"
