"""Cleaning rules applied to every imported or collected tweet, with counts of what each dropped."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from corpora.records import RawTweet, text_hash

RETWEET = re.compile(r"^RT @\w+:?")
LINK = re.compile(r"https?://\S+|\bwww\.\S+", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w@])@\w{1,15}\b")


@dataclass(frozen=True)
class CleanOptions:
    """What to drop or strip. Dropping removes a whole tweet; stripping edits its text."""

    drop_retweets: bool = True
    drop_replies: bool = False
    strip_links: bool = True
    strip_mentions: bool = False


@dataclass
class CleanReport:
    """Counts for one batch: read, kept, and dropped per reason."""

    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def merge(self, other: CleanReport) -> None:
        self.read += other.read
        self.kept += other.kept
        self.dropped.update(other.dropped)


def normalize(text: str) -> str:
    """Decode HTML entities (`&amp;` -> `&`) and collapse whitespace; emoji are kept as they are."""
    return " ".join(html.unescape(text).split())


def _reason_to_drop(record: RawTweet, text: str, options: CleanOptions) -> str | None:
    if options.drop_retweets and RETWEET.match(text):
        return "retweet"
    if options.drop_replies and (record.is_reply or text.startswith("@")):
        return "reply"
    return None


def clean(records: Iterable[RawTweet], options: CleanOptions) -> tuple[list[RawTweet], CleanReport]:
    """Apply `options` to `records`; de-duplicate by text within the batch."""
    report = CleanReport()
    kept: list[RawTweet] = []
    seen: set[str] = set()
    for record in records:
        report.read += 1
        text = normalize(record.text)
        reason = _reason_to_drop(record, text, options)
        if reason is None:
            if options.strip_links:
                text = normalize(LINK.sub("", text))
            if options.strip_mentions:
                text = normalize(MENTION.sub("", text))
            if not text:
                reason = "empty"
            elif text_hash(text) in seen:
                reason = "duplicate"
        if reason:
            report.dropped[reason] += 1
            continue
        seen.add(text_hash(text))
        kept.append(replace(record, text=text))
    report.kept = len(kept)
    return kept, report
