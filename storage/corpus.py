"""Personas (voices the bot speaks as) and the tweets each one learns from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, Timestamped, utcnow


class Persona(Timestamped, Base):
    """A celebrity or campaign voice; `name` is the handle used on the command line."""

    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))

    tweets: Mapped[list[Tweet]] = relationship(back_populates="persona", passive_deletes=True)


class Tweet(Timestamped, Base):
    """One post in a persona's corpus.

    `source` says where `source_id` comes from: `x` for a real X status id (API, archive, or an
    export that kept ids) and `text` for posts without one, whose id is a hash of the text.
    `text_hash` de-duplicates a persona's corpus whatever the source; `raw_hash` is the hash of
    the text as read, before cleaning, and `loose_hash` of its letters and digits alone
    (`corpora.records.loose_hash`), so a re-import under new cleaning rules finds the row. Each
    is indexed per persona: an import looks its records up a batch at a time.
    """

    __tablename__ = "tweets"
    __table_args__ = (
        UniqueConstraint("persona_id", "source", "source_id"),
        UniqueConstraint("persona_id", "text_hash"),
        Index("ix_tweets_persona_raw_hash", "persona_id", "raw_hash"),
        Index("ix_tweets_persona_loose_hash", "persona_id", "loose_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    raw_hash: Mapped[str | None] = mapped_column(String(64))
    loose_hash: Mapped[str | None] = mapped_column(String(64))
    tweeted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    persona: Mapped[Persona] = relationship(back_populates="tweets")


class CollectionCursor(Base):
    """How far collection from one X source (a timeline or a search) has read for a persona.

    `newest_id`: every post of the source up to this id has been read. While a run that stopped
    early (read budget, rate limit, error) has left a gap, `pending_newest_id` is the newest id it
    read and `gap_until_id` the oldest: the next run reads the gap (newer than `newest_id`, older
    than `gap_until_id`) before anything newer, so nothing is skipped and nothing is read twice.
    """

    __tablename__ = "collection_cursors"
    __table_args__ = (UniqueConstraint("persona_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(300))
    newest_id: Mapped[str | None] = mapped_column(String(32))
    pending_newest_id: Mapped[str | None] = mapped_column(String(32))
    gap_until_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
