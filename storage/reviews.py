"""What reviewers' decisions teach the bot: each draft's candidates with their scores, every
decision a person made on a draft, and whether the learning loop is on for a campaign."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, Timestamped, utcnow


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    REGENERATED = "regenerated"  # a new text asked for: this one was not wanted
    EDITED = "edited"  # rewritten by hand (`text_after`): half an approval
    UNAPPROVED = "unapproved"  # an approval taken back


class DraftCandidate(Base):
    """One candidate a draft's text was chosen from: the chosen one and a sample of the others,
    each with the editor's scores (`scores`: fluency, words, length, approval, flaws, total)."""

    __tablename__ = "draft_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    generated_item_id: Mapped[int] = mapped_column(
        ForeignKey("generated_items.id", ondelete="CASCADE"), index=True
    )
    rank: Mapped[int] = mapped_column(Integer)  # in the editor's order, 0 first
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReviewDecision(Timestamped, Base):
    """A person's decision on a draft's text (`generated_item_id`: the text judged), kept for
    the campaign's review model; `text_before` is what they saw, `text_after` what they wrote."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"),
                                                index=True)
    generated_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("generated_items.id", ondelete="SET NULL"), index=True
    )
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    text_before: Mapped[str] = mapped_column(Text)
    text_after: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(100))


class ReviewLoop(Base):
    """An operator's say over a campaign's learning loop: switched off (or on again), and
    reset (decisions up to `forgotten_through` no longer teach it). No row: on, nothing reset."""

    __tablename__ = "review_loops"

    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The newest decision a reset forgot: the model learns only from later ones (0: none).
    forgotten_through: Mapped[int] = mapped_column(Integer, default=0)
