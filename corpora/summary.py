"""Per-persona corpus sizes, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.corpus import Persona, Tweet


@dataclass(frozen=True)
class PersonaSummary:
    """One persona's corpus: how many tweets and how many characters of text."""

    name: str
    tweets: int
    characters: int


def persona_summaries(session: Session) -> list[PersonaSummary]:
    """Every persona by name, with its tweet and character counts (zero for an empty corpus)."""
    query = (
        select(
            Persona.name,
            func.count(Tweet.id),
            func.coalesce(func.sum(func.length(Tweet.text)), 0),
        )
        .outerjoin(Tweet, Tweet.persona_id == Persona.id)
        .group_by(Persona.id, Persona.name)
        .order_by(Persona.name)
    )
    rows = session.execute(query)
    return [PersonaSummary(name, int(count), int(chars)) for name, count, chars in rows]
