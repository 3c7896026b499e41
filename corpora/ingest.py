"""Storing cleaned tweets for a persona: idempotent, one transaction per call."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from corpora.errors import CorpusError
from corpora.records import RawTweet, text_hash
from storage.corpus import Persona, Tweet

PERSONA_NAME = re.compile(r"[\w.\-]{1,64}")
FLUSH_EVERY = 1000  # rows per INSERT batch; progress is reported after each


def check_persona_name(name: str) -> str:
    """`name` if it can name a persona on the command line, else `CorpusError`."""
    if not PERSONA_NAME.fullmatch(name):
        raise CorpusError(
            f"bad persona name {name!r}: use 1-64 letters, digits, '_', '.' or '-'"
        )
    return name


def get_or_create_persona(session: Session, name: str) -> Persona:
    """The persona called `name`, created if new (`CorpusError` for a name that cannot be one)."""
    check_persona_name(name)
    persona = session.scalar(select(Persona).where(Persona.name == name))
    if persona is None:
        persona = Persona(name=name)
        session.add(persona)
        session.flush()
    return persona


def store_tweets(
    session: Session,
    persona: Persona,
    records: Sequence[RawTweet],
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Add the records not yet in `persona`'s corpus (by X id or by text); returns how many.

    The caller owns the transaction, so a failure anywhere stores nothing. `on_progress`, when
    given, is called with the number of records handled after each batch written.
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
    for index, record in enumerate(records, 1):
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
        if added % FLUSH_EVERY == 0:
            session.flush()
            if on_progress:
                on_progress(index)
    session.flush()
    if on_progress:
        on_progress(len(records))
    return added


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
