"""Cleaning rules applied to every imported or collected tweet, with counts of what each dropped."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from corpora.records import RawTweet, text_hash

RETWEET = re.compile(r"^RT @\w+:?")
MENTION = re.compile(r"(?<![\w@])@\w{1,15}\b")
# A link, with the separator that introduced it ("Watch this: <link>", "New video - <link>"):
# removing only the link would leave the separator dangling.
SEPARATOR = r"[-\u2013\u2014:|\u00bb>~\u2022\u00b7/=]"
LINK = re.compile(
    rf"(?:\s*{SEPARATOR}+)?\s*(?:https?://\S+|\bwww\.\S+)", re.IGNORECASE
)
# What no sentence ends on: a separator, a comma, an opening bracket or quote mark alone.
DANGLING = re.compile(rf"(?:\s*(?:{SEPARATOR}|[,;(\[{{]|\s['\"]))+$")
# The @mentions that open a reply address it; they are not part of its sentence.
REPLY_ADDRESS = re.compile(r"^(?:\.?@\w{1,15}[\s,:]*)+")
# CSV exports that escaped quotes with a backslash (`that\'s`, `\"quoted\"`) or wrote a line
# break as the two characters `\n`.
ESCAPED_QUOTE = re.compile(r"\\+(['\"])")
ESCAPED_BREAK = re.compile(r"\\[nr]")


@dataclass(frozen=True)
class CleanOptions:
    """What to drop or strip. Dropping removes a whole tweet; stripping edits its text."""

    drop_retweets: bool = True
    drop_replies: bool = False
    strip_links: bool = True
    strip_mentions: bool = False
    strip_reply_address: bool = True  # leading @mentions of a reply: its sentence is kept


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
    """Decode HTML entities (`&amp;` -> `&`), backslash-escaped quotes and line breaks, and
    collapse whitespace; emoji are kept as they are."""
    text = ESCAPED_BREAK.sub(" ", ESCAPED_QUOTE.sub(r"\1", html.unescape(text)))
    return " ".join(text.split())


def strip_links(text: str) -> str:
    """`text` without links, the separators that introduced them, or a dangling ending."""
    return trim_dangling(normalize(LINK.sub(" ", text)))


def strip_mentions(text: str) -> str:
    """`text` without @mentions (and whatever ending their removal leaves dangling)."""
    return trim_dangling(normalize(MENTION.sub("", text)))


def trim_dangling(text: str) -> str:
    """`text` without a separator, comma or opening bracket left hanging at its end."""
    return DANGLING.sub("", text)


def _reason_to_drop(record: RawTweet, text: str, options: CleanOptions) -> str | None:
    if options.drop_retweets and RETWEET.match(text):
        return "retweet"
    if options.drop_replies and (record.is_reply or text.startswith("@")):
        return "reply"
    return None


def _strip(text: str, options: CleanOptions) -> str:
    """A tweet's normalized text after the stripping rules of `options` (empty: nothing is
    left)."""
    if options.strip_links:
        text = strip_links(text)
    if options.strip_mentions:
        text = strip_mentions(text)
    elif options.strip_reply_address:
        text = normalize(REPLY_ADDRESS.sub("", text))
    return text


def clean_each(
    records: Iterable[RawTweet], options: CleanOptions, report: CleanReport
) -> Iterator[RawTweet]:
    """Apply `options` to `records` one at a time, counting into `report`; no de-duplication
    (storing finds tweets already stored, `corpora.ingest`)."""
    for record in records:
        report.read += 1
        text = normalize(record.text)
        reason = _reason_to_drop(record, text, options)
        if reason is None:
            text = _strip(text, options)
            reason = None if text else "empty"
        if reason:
            report.dropped[reason] += 1
            continue
        report.kept += 1
        yield replace(record, text=text, raw_hash=record.raw_hash or text_hash(record.text))


def clean(records: Iterable[RawTweet], options: CleanOptions) -> tuple[list[RawTweet], CleanReport]:
    """Apply `options` to `records`; de-duplicate by text within the batch."""
    report = CleanReport()
    kept: list[RawTweet] = []
    seen: set[str] = set()
    for record in clean_each(records, options, report):
        digest = text_hash(record.text)
        if digest in seen:
            report.dropped["duplicate"] += 1
            report.kept -= 1
            continue
        seen.add(digest)
        kept.append(record)
    return kept, report
