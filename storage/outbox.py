"""Generated items (texts and image grids), the outbox of posts made from them, and each post's
delivery to each platform."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, Timestamped, utcnow


class PostStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the request may have gone through: reconcile, never retry blindly
    REJECTED = "rejected"


class GeneratedItem(Timestamped, Base):
    """Something a model made: a text (with its score) or an image file."""

    __tablename__ = "generated_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id", ondelete="SET NULL"))
    prompt: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    artifact_path: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Post(Timestamped, Base):
    """One campaign post, written and reviewed once; each platform it goes to has a `Delivery`.

    `status` sums up the deliveries (see `bot.outbox.summary`): a draft, approved or rejected
    post is that on every platform; once publishing began, it is the furthest-behind delivery's.
    """

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.DRAFT, index=True)
    text: Mapped[str] = mapped_column(Text)  # as written or edited, hashtag included
    campaign: Mapped[str | None] = mapped_column(String(64))
    generated_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("generated_items.id", ondelete="SET NULL")
    )
    image_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("generated_items.id", ondelete="SET NULL")
    )
    image_alt: Mapped[str | None] = mapped_column(Text)  # the image's description for screen readers
    # The scheduled campaign slot it was written for (`job@time`): one post per slot.
    campaign_slot: Mapped[str | None] = mapped_column(String(100), unique=True, index=True)
    publish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a person's time
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # Who approved or rejected it, and when (None: not reviewed, or approved in auto mode).
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edited_by: Mapped[str | None] = mapped_column(String(100))  # who last rewrote the text by hand

    generated_item: Mapped[GeneratedItem | None] = relationship(foreign_keys=[generated_item_id])
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="post", lazy="selectin", order_by="Delivery.id", cascade="all, delete-orphan",
    )

    def delivery(self, platform: str) -> Delivery | None:
        """This post's delivery to `platform`, if it goes there."""
        return next((d for d in self.deliveries if d.platform == platform), None)


class Delivery(Timestamped, Base):
    """One post on one platform: its text as that platform takes it, and where it is in its life
    (the states of `PostStatus`); published exactly once, or found to be."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("post_id", "platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.DRAFT, index=True)
    text: Mapped[str] = mapped_column(Text)  # fitted to the platform
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # retry after
    external_id: Mapped[str | None] = mapped_column(String(200))  # Bluesky's are at:// URIs
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last send began
    # When the first attempt whose outcome is unknown began (None: no doubt, or doubt resolved).
    unsure_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    post: Mapped[Post] = relationship(back_populates="deliveries")


class PlatformHealth(Base):
    """A platform's run of failed deliveries, and while its circuit breaker is open, until when
    nothing is sent there."""

    __tablename__ = "platform_health"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last success
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
