"""Storing cleaned tweets for a persona: idempotent, one transaction per call."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from corpora.records import RawTweet, text_hash
from storage.corpus import Persona, Tweet


def get_or_create_persona(session: Session, name: str) -> Persona:
    """The persona called `name`, created if new."""
    persona = session.scalar(select(Persona).where(Persona.name == name))
    if persona is None:
        persona = Persona(name=name)
        session.add(persona)
        session.flush()
    return persona


def store_tweets(session: Session, persona: Persona, records: Sequence[RawTweet]) -> int:
    """Add the records not yet in `persona`'s corpus (by X id or by text); returns how many.

    The caller owns the transaction, so a failure anywhere stores nothing.
    """
    existing_hashes = set(
        session.scalars(select(Tweet.text_hash).where(Tweet.persona_id == persona.id))
    )
    existing_ids = set(
        session.scalars(
            select(Tweet.source_id).where(Tweet.persona_id == persona.id, Tweet.source == "x")
        )
    )
    added = 0
    for record in records:
        digest = text_hash(record.text)
        if digest in existing_hashes or (record.source_id and record.source_id in existing_ids):
            continue
        source, source_id = ("x", record.source_id) if record.source_id else ("text", digest)
        session.add(
            Tweet(
                persona_id=persona.id, source=source, source_id=source_id, author=record.author,
                text=record.text, text_hash=digest, tweeted_at=record.created_at,
            )
        )
        existing_hashes.add(digest)
        if record.source_id:
            existing_ids.add(record.source_id)
        added += 1
    session.flush()
    return added


def newest_x_id(session: Session, persona: Persona) -> str | None:
    """The highest X status id stored for `persona` (to resume collection after it)."""
    ids = session.scalars(
        select(Tweet.source_id).where(Tweet.persona_id == persona.id, Tweet.source == "x")
    )
    return max(ids, key=int, default=None)
