"""What the queue and published pages show of each post: its text with the platform's length
rule, a preview with its image, the actions its status allows, and where it was published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot import outbox
from bot.core.runtime import Runtime
from bot.platforms.catalog import publisher_class
from storage.base import as_utc
from storage.outbox import GeneratedItem, Post, PostStatus
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
    PostStatus.FAILED: "failed",
    PostStatus.PUBLISHED: "published",
    PostStatus.REJECTED: "rejected",
}
PLATFORMS = {"x": "X", "discord": "Discord", "local": "Local outbox"}


@dataclass(frozen=True)
class PostView:
    """One post as a page shows it."""

    id: int
    platform: str
    platform_name: str
    status: str
    state: str
    text: str
    length: int
    limit: int
    image_url: str | None
    written_by: str | None  # the model version that wrote the text, or the person who edited it
    reviewed_by: str | None
    created: datetime | None
    publish_at: datetime | None
    published_at: datetime | None
    error: str | None
    external_id: str | None
    url: str | None  # where the published post can be seen
    cost_usd: float
    actions: tuple[str, ...]

    @property
    def over_limit(self) -> bool:
        return self.length > self.limit


def _writers(runtime: Runtime, posts: list[Post]) -> dict[int, str]:
    """Post id -> "text <target> v<n>" of the version that wrote its text."""
    items = {post.generated_item_id for post in posts if post.generated_item_id}
    if not items:
        return {}
    with runtime.app.sessions() as session:
        rows = session.execute(
            select(GeneratedItem.id, ModelVersion.target, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == GeneratedItem.model_version_id)
            .where(GeneratedItem.id.in_(items))
        ).all()
    versions = {item: f"text model {target} v{number}" for item, target, number in rows}
    return {post.id: versions[post.generated_item_id] for post in posts
            if post.generated_item_id in versions}


def post_view(post: Post, writer: str | None = None) -> PostView:
    """`post` for a page: length by its platform's rule and the buttons its status allows."""
    rules = publisher_class(post.platform)
    return PostView(
        id=post.id, platform=post.platform, platform_name=PLATFORMS.get(post.platform, post.platform),
        status=post.status, state=STATES.get(PostStatus(post.status), post.status), text=post.text,
        length=rules.text_length(post.text), limit=rules.text_limit,
        image_url=f"/items/{post.image_item_id}" if post.image_item_id else None,
        written_by=f"edited by {post.edited_by}" if post.edited_by else writer,
        reviewed_by=post.reviewed_by, created=as_utc(post.created_at), publish_at=as_utc(post.publish_at),
        published_at=as_utc(post.published_at), error=post.error, external_id=post.external_id,
        url=rules.post_url(post.external_id) if post.external_id else None,
        cost_usd=post.cost_usd, actions=ACTIONS.get(PostStatus(post.status), ()),
    )


def _views(runtime: Runtime, posts: list[Post]) -> list[PostView]:
    writers = _writers(runtime, posts)
    return [post_view(post, writers.get(post.id)) for post in posts]


def queue_page(runtime: Runtime) -> dict[str, Any]:
    """The posts waiting for a person or for the publisher, drafts first."""
    waiting = outbox.posts(runtime.app.sessions, *WAITING)
    order = {status: index for index, status in enumerate(WAITING)}
    waiting.sort(key=lambda post: (order[PostStatus(post.status)], -post.id))
    settings = runtime.app.settings
    return {
        "posts": _views(runtime, waiting),
        "reviewing": settings.reviewing,
        "platforms": [PLATFORMS.get(name, name) for name in sorted(runtime.publishers)],
        "persona": settings.campaign_persona,
        "buttons": BUTTONS,
        "refresh": 30,
    }


def published_page(runtime: Runtime) -> dict[str, Any]:
    """The newest published posts, with their images and links."""
    published = outbox.posts(runtime.app.sessions, PostStatus.PUBLISHED, limit=30)
    return {"posts": _views(runtime, published)}


def text_length(platform: str, text: str) -> dict[str, Any]:
    """`text`'s length as `platform` counts it, and the platform's limit (for the live counter)."""
    rules = publisher_class(platform)
    count = rules.text_length(" ".join(text.split()))  # as the edit will store it
    return {"length": count, "limit": rules.text_limit, "over": count > rules.text_limit}
