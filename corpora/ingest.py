"""Storing cleaned tweets for a persona: idempotent, one transaction per call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from corpora.names import check_name
from corpora.records import RawTweet, text_hash
from storage.corpus import Persona, Tweet

FLUSH_EVERY = 1000  # rows per INSERT batch; progress is reported after each


def get_or_create_persona(session: Session, name: str) -> Persona:
    """The persona called `name`, created if new (`CorpusError` for a name that cannot be one)."""
    check_name("persona", name)
    persona = session.scalar(select(Persona).where(Persona.name == name))
    if persona is None:
        persona = Persona(name=name)
        session.add(persona)
        session.flush()
    return persona


def loose_key(text: str) -> str:
    """A post's identity across cleaning rules: its letters and digits only, case-folded, so a
    re-import under new rules (a dangling separator trimmed, an escaped quote undone) finds it."""
    return "".join(char for char in text.casefold() if char.isalnum())


@dataclass
class StoreReport:
    """What storing one batch did: rows added, and stored rows whose text a re-import changed."""

    added: int = 0
    updated: int = 0


def store_tweets(
    session: Session,
    persona: Persona,
    records: Sequence[RawTweet],
    on_progress: Callable[[int], None] | None = None,
) -> StoreReport:
    """Add the records not yet in `persona`'s corpus and update the text of those that are.

    A record is already stored when its text as read (`raw_hash`), its cleaned text, its X id
    or its `loose_key` matches a stored tweet's. When the match shows the same post cleaned
    differently (same text as read, or the same letters less what a rule removed), the stored
    text is rewritten: a re-import under new cleaning rules updates instead of duplicating. The
    caller owns the transaction, so a failure anywhere stores nothing. `on_progress`, when
    given, is called with the number of records handled after each batch written.
    """
    stored = session.scalars(select(Tweet).where(Tweet.persona_id == persona.id)).all()
    by_raw = {tweet.raw_hash: tweet for tweet in stored if tweet.raw_hash}
    by_hash = {tweet.text_hash: tweet for tweet in stored}
    by_id = {tweet.source_id: tweet for tweet in stored if tweet.source == "x"}
    by_key = {key: tweet for tweet in stored if (key := loose_key(tweet.text))}
    report = StoreReport()
    for index, record in enumerate(records, 1):
        digest, key = text_hash(record.text), loose_key(record.text)
        same = by_raw.get(record.raw_hash or "") or by_key.get(key or "-")
        match = by_hash.get(digest) or same or by_id.get(record.source_id or "-")
        if match is not None:
            # Cleaning only removes, so an edited post (same id, words added) keeps its text.
            cleaned_again = match is same or key in loose_key(match.text)
            if match.text_hash != digest and digest not in by_hash and cleaned_again:
                del by_hash[match.text_hash]
                match.text, match.text_hash = record.text, digest
                if match.source == "text":
                    match.source_id = digest
                by_hash[digest] = match
                report.updated += 1
            if record.raw_hash and not match.raw_hash:  # stored before raw hashes were kept
                match.raw_hash = record.raw_hash
                by_raw[record.raw_hash] = match
            continue
        source, source_id = ("x", record.source_id) if record.source_id else ("text", digest)
        tweet = Tweet(
            persona_id=persona.id, source=source, source_id=source_id, author=record.author,
            text=record.text, text_hash=digest, raw_hash=record.raw_hash,
            tweeted_at=record.created_at,
        )
        session.add(tweet)
        by_hash[digest] = tweet
        if key:
            by_key[key] = tweet
        if record.raw_hash:
            by_raw[record.raw_hash] = tweet
        if record.source_id:
            by_id[record.source_id] = tweet
        report.added += 1
        if report.added % FLUSH_EVERY == 0:
            session.flush()
            if on_progress:
                on_progress(index)
    session.flush()
    if on_progress:
        on_progress(len(records))
    return report


def newest_post_id(session: Session, persona: Persona, author: str) -> str | None:
    """The highest X status id stored for `persona` written by `author` (or by no one named,
    as in an archive export): where reading `author`'s timeline can start."""
    ids = session.scalars(
        select(Tweet.source_id).where(
            Tweet.persona_id == persona.id, Tweet.source == "x",
            or_(Tweet.author.is_(None), func.lower(Tweet.author) == author.lower()),
        )
    )
    return max(ids, key=int, default=None)
