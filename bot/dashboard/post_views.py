"""What the queue and published pages show of each post: its text with the tightest platform's
length rule, each platform's version and state, a preview with its image and its description,
why its text was chosen, the actions its status allows, and where it was published; and the
campaign's review model on the queue (`model_views.review_panel`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot import outbox, platform_health
from bot.core import reviewing
from bot.core.runtime import Runtime
from bot.dashboard.model_views import review_panel
from bot.platforms.catalog import publisher_class
from storage.base import as_utc
from storage.outbox import Delivery, GeneratedItem, Post, PostStatus
from storage.registry import ModelVersion

WAITING = (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.UNKNOWN,
           PostStatus.FAILED)
# The buttons each status offers, in order; the edit box is for drafts only.
ACTIONS = {
    PostStatus.DRAFT: ("approve", "schedule", "regenerate", "reject"),
    PostStatus.APPROVED: ("unapprove", "schedule", "reject"),
    PostStatus.FAILED: ("approve", "reject"),
}
BUTTONS = {"approve": "Approve", "schedule": "Schedule", "regenerate": "Regenerate",
           "reject": "Reject", "unapprove": "Undo approval", "edit": "Save text"}
STATES = {  # a status in words, for the person reading the queue
    PostStatus.DRAFT: "draft: waits for your review",
    PostStatus.APPROVED: "approved: published on the next outbox run",
    PostStatus.PUBLISHING: "being sent now",
    PostStatus.UNKNOWN: "sent, outcome unknown: being checked against the account, never resent blindly",
    PostStatus.FAILED: "failed: approving it again retries only where it failed",
    PostStatus.PUBLISHED: "published",
    PostStatus.REJECTED: "rejected",
}
PLATFORMS = {"x": "X", "discord": "Discord", "local": "Local outbox", "mastodon": "Mastodon",
             "bluesky": "Bluesky"}


@dataclass(frozen=True)
class DeliveryView:
    """One post's version for one platform, and where its delivery is."""

    platform: str
    platform_name: str
    status: str
    state: str
    text: str
    length: int
    limit: int
    attempts: int
    error: str | None
    external_id: str | None
    url: str | None  # where the published post can be seen
    cost_usd: float
    published_at: datetime | None

    @property
    def over_limit(self) -> bool:
        return self.length > self.limit


@dataclass(frozen=True)
class PostView:
    """One post as a page shows it: written once, with each platform's version."""

    id: int
    platform: str  # the platform whose limit the edit box counts against (the tightest)
    platform_name: str  # every platform it goes to, in words
    status: str
    state: str
    text: str
    length: int
    limit: int
    image_url: str | None
    image_alt: str | None
    written_by: str | None  # the model version that wrote the text, or the person who edited it
    why: str | None  # why the editor chose this text among its candidates
    reviewed_by: str | None
    created: datetime | None
    publish_at: datetime | None
    published_at: datetime | None
    error: str | None
    cost_usd: float
    deliveries: tuple[DeliveryView, ...]
    actions: tuple[str, ...]

    @property
    def over_limit(self) -> bool:
        return self.length > self.limit


def delivery_view(delivery: Delivery) -> DeliveryView:
    """`delivery` for a page: its version's length by its platform's rule, and its state."""
    rules = publisher_class(delivery.platform)
    return DeliveryView(
        platform=delivery.platform, platform_name=PLATFORMS.get(delivery.platform, delivery.platform),
        status=delivery.status, state=STATES.get(PostStatus(delivery.status), delivery.status),
        text=delivery.text, length=rules.text_length(delivery.text), limit=rules.text_limit,
        attempts=delivery.attempts, error=delivery.error, external_id=delivery.external_id,
        url=rules.post_url(delivery.external_id) if delivery.external_id else None,
        cost_usd=delivery.cost_usd, published_at=as_utc(delivery.published_at),
    )


@dataclass(frozen=True)
class Written:
    """Who wrote a post's text ("text model <target> v<n>") and why it was chosen."""

    by: str | None
    why: str | None


def _written(runtime: Runtime, posts: list[Post]) -> dict[int, Written]:
    """Post id -> the version that wrote its text and why it was chosen (one query for all)."""
    items = {post.generated_item_id for post in posts if post.generated_item_id}
    if not items:
        return {}
    with runtime.app.sessions() as session:
        rows = session.execute(
            select(GeneratedItem, ModelVersion.target, ModelVersion.version)
            .outerjoin(ModelVersion, ModelVersion.id == GeneratedItem.model_version_id)
            .where(GeneratedItem.id.in_(items))
        ).all()
        found = {item.id: Written(f"text model {target} v{number}" if target else None,
                                  reviewing.why_this_one(item)) for item, target, number in rows}
    return {post.id: found[post.generated_item_id] for post in posts
            if post.generated_item_id in found}


def post_view(post: Post, written: Written | None = None) -> PostView:
    """`post` for a page: each platform's version, the edit box's length by the tightest platform's
    rule, who wrote it and why, and the buttons its status allows."""
    deliveries = tuple(delivery_view(d) for d in post.deliveries)
    platform = "local"
    if deliveries:
        rules = {d.platform: publisher_class(d.platform) for d in deliveries}
        platform = max(rules, key=lambda name: rules[name].text_length(post.text) / rules[name].text_limit)
    rules = publisher_class(platform)
    written = written or Written(None, None)
    published = [d.published_at for d in deliveries if d.published_at is not None]
    return PostView(
        id=post.id, platform=platform,
        platform_name=", ".join(d.platform_name for d in deliveries) or "no platform",
        status=post.status, state=STATES.get(PostStatus(post.status), post.status), text=post.text,
        length=rules.text_length(post.text), limit=rules.text_limit,
        image_url=f"/items/{post.image_item_id}" if post.image_item_id else None,
        image_alt=post.image_alt,
        written_by=f"edited by {post.edited_by}" if post.edited_by else written.by,
        why=written.why,
        reviewed_by=post.reviewed_by, created=as_utc(post.created_at), publish_at=as_utc(post.publish_at),
        published_at=max(published) if published else None,
        error="; ".join(f"{d.platform_name}: {d.error}" for d in deliveries if d.error) or None,
        cost_usd=sum(d.cost_usd for d in deliveries), deliveries=deliveries,
        actions=ACTIONS.get(PostStatus(post.status), ()),
    )


def _views(runtime: Runtime, posts: list[Post]) -> list[PostView]:
    written = _written(runtime, posts)
    return [post_view(post, written.get(post.id)) for post in posts]


def queue_page(runtime: Runtime) -> dict[str, Any]:
    """The posts waiting for a person or for the publisher, drafts first, the platforms that
    keep failing, and the campaign's review model."""
    waiting = outbox.posts(runtime.app.sessions, *WAITING)
    order = {status: index for index, status in enumerate(WAITING)}
    waiting.sort(key=lambda post: (order[PostStatus(post.status)], -post.id))
    settings = runtime.app.settings
    with runtime.app.sessions() as session:
        failing = platform_health.summaries(session)
    return {
        "posts": _views(runtime, waiting),
        "reviewing": settings.reviewing,
        "platforms": [PLATFORMS.get(name, name) for name in sorted(runtime.publishers)],
        "failing": failing,  # platforms paused after repeated failures
        "persona": settings.campaign_persona,
        "review": review_panel(runtime),
        "buttons": BUTTONS,
        "refresh": 30,
    }


def published_page(runtime: Runtime) -> dict[str, Any]:
    """The newest posts published on at least one platform, with their images, links and each
    platform's state."""
    with runtime.app.sessions() as session:
        published = list(session.scalars(
            select(Post).where(Post.id.in_(select(Delivery.post_id).where(
                Delivery.status == PostStatus.PUBLISHED))).order_by(Post.id.desc()).limit(30)))
    return {"posts": _views(runtime, published)}


def text_length(platform: str, text: str) -> dict[str, Any]:
    """`text`'s length as `platform` counts it, and the platform's limit (for the live counter)."""
    rules = publisher_class(platform)
    count = rules.text_length(" ".join(text.split()))  # as the edit will store it
    return {"length": count, "limit": rules.text_limit, "over": count > rules.text_limit}
