"""The campaign outbox: a post is written and reviewed once, and delivered to each platform once.

Each platform a post goes to has its own delivery, with the states a post had before:

    draft --approve--> approved --claim--> publishing --> published
      |   <-unapprove--  |                     |--> failed    (refused for good, or out of tries)
      +--reject--+-------+                     |--> unknown   (may have gone through)
                 v                             +--> approved  (certainly not sent: try again later)
                                  (approved --> unknown when an earlier attempt may have gone
                                   through and the platform's key no longer covers a resend)
              rejected          unknown --reconcile--> published (found on the account)
                                                   --> approved / failed (not there, and the
                                                       account was read back past the attempt)

Review acts on the whole post (every delivery still waiting); publishing, its outcome and its
reconciliation act on one delivery (`bot.publishing`), so "published on X, failed on Bluesky" is
visible and approving the post again retries only Bluesky. A post's own `status` sums its
deliveries up (`summary`), updated in the same transaction as each of their moves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NowbotError
from bot.platforms.base import fit_with_hashtag
from bot.platforms.catalog import publisher_class
from storage.base import utcnow
from storage.outbox import Delivery, Post, PostStatus
from storage.reviews import Decision, ReviewDecision

S = PostStatus
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.APPROVED, S.REJECTED},
    S.APPROVED: {S.PUBLISHING, S.REJECTED, S.DRAFT, S.UNKNOWN},  # unknown: a resend not safe
    S.PUBLISHING: {S.PUBLISHED, S.FAILED, S.UNKNOWN, S.APPROVED},
    S.UNKNOWN: {S.PUBLISHED, S.APPROVED, S.FAILED},
    S.FAILED: {S.APPROVED, S.REJECTED},
    S.PUBLISHED: set(),
    S.REJECTED: set(),
}
# A post's status is its furthest-behind delivery's, in this order.
SUMMARY_ORDER = (S.DRAFT, S.PUBLISHING, S.UNKNOWN, S.APPROVED, S.FAILED, S.PUBLISHED, S.REJECTED)
ALT_LIMIT = 1000  # characters of an image description (X's limit; Mastodon takes 1500)


class OutboxError(NowbotError):
    """A queue action that cannot be done; the message says why."""


class PostNotFound(OutboxError):
    def __init__(self, post_id: int) -> None:
        super().__init__(f"no post with id {post_id}")


class InvalidTransition(OutboxError):
    def __init__(self, post_id: int, current: str, target: str) -> None:
        super().__init__(f"post {post_id} is {current}: it cannot become {target}")


class WrongStatus(OutboxError):
    """The action needs the post in another status."""

    def __init__(self, post_id: int, current: str, needed: str, action: str) -> None:
        super().__init__(f"post {post_id} is {current}: only {needed} can be {action}")


class BadText(OutboxError):
    """A text a person wrote that a post's platform cannot take (empty, or too long)."""


class BadTime(OutboxError):
    """A publishing time that cannot be used (unreadable, or already past)."""


def summary(states: Iterable[str]) -> str | None:
    """A post's status from its deliveries' (None for a post that goes nowhere)."""
    return min(states, key=SUMMARY_ORDER.index, default=None)


# -- moves -----------------------------------------------------------------------------------

def move_delivery(session: Session, delivery_id: int, target: str, **values: Any) -> Delivery:
    """Move a delivery to `target` if its current status allows it, and update its post's status.

    The row is locked (`FOR UPDATE` on PostgreSQL) and the update is conditional on the status
    read, so two processes can never both make the same move (SQLite has no row locks; the
    condition is what protects it there).
    """
    delivery = session.scalar(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
    if delivery is None:
        raise OutboxError(f"no delivery with id {delivery_id}")
    current = delivery.status
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(delivery.post_id, f"{current} on {delivery.platform}", target)
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == current)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(delivery.post_id, "being changed by another process", target)
    session.refresh(delivery)
    sync_status(session, delivery.post_id)
    return delivery


def sync_status(session: Session, post_id: int) -> Post:
    """Set a post's status from its deliveries' (the post row locked first, so that two
    deliveries moving at once cannot leave a stale sum)."""
    post = _get(session, post_id)
    states = session.scalars(select(Delivery.status).where(Delivery.post_id == post_id)).all()
    status = summary(states) or post.status
    if status != post.status:
        session.execute(update(Post).where(Post.id == post_id).values(status=status, updated_at=utcnow())
                        .execution_options(synchronize_session=False))
    session.refresh(post)
    for delivery in post.deliveries:
        session.refresh(delivery)
    return post


def _move_all(session: Session, post: Post, sources: set[str], target: str, **values: Any) -> int:
    """Move every delivery of `post` now in one of `sources` to `target`; returns how many."""
    result = session.execute(
        update(Delivery).where(Delivery.post_id == post.id, Delivery.status.in_(sources))
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _set(session: Session, post: Post, **values: Any) -> Post:
    session.execute(update(Post).where(Post.id == post.id).values(updated_at=utcnow(), **values)
                    .execution_options(synchronize_session=False))
    return sync_status(session, post.id)


# -- writing ---------------------------------------------------------------------------------

def create_post(
    session: Session,
    *,
    platforms: Iterable[str],
    text: str,
    hashtag: str | None,
    review: bool,
    campaign: str | None = None,
    generated_item_id: int | None = None,
    image_item_id: int | None = None,
    image_alt: str | None = None,
    campaign_slot: str | None = None,
) -> Post:
    """Add a post with one delivery per platform, each text fitted to its platform: drafts awaiting
    review, or already approved in auto mode; `campaign_slot` names the scheduled slot it is for
    (one post per slot)."""
    status = S.DRAFT if review else S.APPROVED
    post = Post(
        text=fit_with_hashtag(text, hashtag, sys.maxsize), campaign=campaign, status=status,
        generated_item_id=generated_item_id, image_item_id=image_item_id,
        image_alt=_alt(image_alt) if image_alt else None, campaign_slot=campaign_slot,
    )
    post.deliveries = [
        Delivery(platform=platform, text=publisher_class(platform).fit_text(text, hashtag),
                 status=status, attempts=0, cost_usd=0.0)
        for platform in dict.fromkeys(platforms)
    ]
    session.add(post)
    session.flush()
    return post


def _get(session: Session, post_id: int) -> Post:
    """The post, its row locked (`FOR UPDATE` on PostgreSQL) for this transaction."""
    post = session.scalar(select(Post).where(Post.id == post_id).with_for_update())
    if post is None:
        raise PostNotFound(post_id)
    return post


def _draft(session: Session, post_id: int, change: str) -> Post:
    post = _get(session, post_id)
    if post.status != S.DRAFT:
        raise WrongStatus(post_id, post.status, "drafts", change)
    return post


def _decided(session: Session, post: Post, decision: Decision, reviewer: str | None,
             text_after: str | None = None) -> None:
    """Keep a person's decision on a generated draft for its campaign's review model, in the
    transaction that carries it out (posts nowbot did not write teach nothing)."""
    if post.generated_item_id is None or post.campaign is None:
        return
    session.add(ReviewDecision(
        post_id=post.id, generated_item_id=post.generated_item_id, campaign=post.campaign,
        decision=decision, text_before=post.text, text_after=text_after,
        reviewer=reviewer[: ReviewDecision.reviewer.type.length] if reviewer else None,
    ))


def replace_text(sessions: sessionmaker[Session], post_id: int, text: str, hashtag: str | None,
                 generated_item_id: int | None = None, reviewer: str | None = None) -> Post:
    """Give a draft a new text (regenerate), fitted to each platform; only drafts can change.
    The text replaced counts as not wanted (`reviewer` asked for another)."""
    with sessions.begin() as session:
        post = _draft(session, post_id, "regenerated")
        _decided(session, post, Decision.REGENERATED, reviewer)
        for delivery in post.deliveries:
            delivery.text = publisher_class(delivery.platform).fit_text(text, hashtag)
        post.text = fit_with_hashtag(text, hashtag, sys.maxsize)
        post.generated_item_id, post.edited_by = generated_item_id, None
        return post


def edit_text(sessions: sessionmaker[Session], post_id: int, text: str, *, editor: str,
              platform: str | None = None) -> Post:
    """Give a draft the text a person wrote, as written (runs of whitespace made single spaces, no
    hashtag added): on every platform, or only on `platform`'s version. It must fit each
    platform it goes to; `editor` is stored with it."""
    text = " ".join(text.split())
    if not text:
        raise BadText(f"post {post_id}: the new text is empty")
    with sessions.begin() as session:
        post = _draft(session, post_id, "edited")
        targets = [d for d in post.deliveries if platform in (None, d.platform)]
        if platform is not None and not targets:
            raise BadText(f"post {post_id} does not go to {platform}")
        for delivery in targets:
            rules = publisher_class(delivery.platform)
            length = rules.text_length(text)
            if length > rules.text_limit:
                raise BadText(f"post {post_id}: the text is {length} characters long as "
                              f"{delivery.platform} counts them; it takes {rules.text_limit}")
            delivery.text = text
        _decided(session, post, Decision.EDITED, editor, text_after=text)
        if platform is None:
            post.text = text
        post.edited_by = editor[: Post.edited_by.type.length]
        return post


def _alt(alt: str) -> str:
    alt = " ".join(alt.split())
    if len(alt) > ALT_LIMIT:
        raise BadText(f"the image description is {len(alt)} characters long; it takes {ALT_LIMIT}")
    return alt


def edit_alt(sessions: sessionmaker[Session], post_id: int, alt: str, *, editor: str) -> Post:
    """Describe a draft's image as a person wrote it (an empty text: no description)."""
    with sessions.begin() as session:
        post = _draft(session, post_id, "edited")
        if post.image_item_id is None:
            raise BadText(f"post {post_id} has no image to describe")
        post.image_alt = _alt(alt) or None
        post.edited_by = editor[: Post.edited_by.type.length]
        return post


# -- review ----------------------------------------------------------------------------------

def _review(reviewer: str) -> dict[str, Any]:
    """The post's review columns: who (cut to the column's width) and when."""
    return {"reviewed_by": reviewer[: Post.reviewed_by.type.length], "reviewed_at": utcnow()}


def approve(sessions: sessionmaker[Session], post_id: int, *, reviewer: str,
            publish_at: datetime | None = None) -> Post:
    """`reviewer` approved the post (stored with the time): it will be published on each platform
    on the first outbox run after `publish_at` (the next one when None). A post that failed on
    some platforms is retried there only, with a fresh count of attempts; an approved post
    stays as it is."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if post.status == S.APPROVED:
            return post
        states = {d.status for d in post.deliveries}
        if post.status != S.DRAFT and S.FAILED not in states:
            raise InvalidTransition(post_id, post.status, S.APPROVED)
        if post.status == S.DRAFT:
            _decided(session, post, Decision.APPROVED, reviewer)
        _move_all(session, post, {S.DRAFT, S.FAILED}, S.APPROVED, error=None, attempts=0,
                  scheduled_for=None)
        return _set(session, post, publish_at=publish_at, **_review(reviewer),
                    **({"status": S.APPROVED} if not post.deliveries else {}))


def retime(sessions: sessionmaker[Session], post_id: int, publish_at: datetime, *,
           reviewer: str) -> Post:
    """Publish an approved post at `publish_at` instead (`reviewer` stored as its reviewer)."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if post.status != S.APPROVED:
            raise WrongStatus(post_id, post.status, "drafts and approved posts", "scheduled")
        return _set(session, post, publish_at=publish_at, **_review(reviewer))


def unapprove(sessions: sessionmaker[Session], post_id: int, *, reviewer: str) -> Post:
    """`reviewer` took back an approval: the post becomes a draft again unless publishing has
    begun on some platform."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if post.status != S.APPROVED or any(d.status != S.APPROVED for d in post.deliveries):
            raise WrongStatus(post_id, post.status, "approved posts not yet being published",
                              "unapproved")
        _decided(session, post, Decision.UNAPPROVED, reviewer)
        if _move_all(session, post, {S.APPROVED}, S.DRAFT) != len(post.deliveries):
            raise InvalidTransition(post_id, "being published", S.DRAFT)  # rolled back
        return _set(session, post, publish_at=None, reviewed_by=None, reviewed_at=None,
                    **({"status": S.DRAFT} if not post.deliveries else {}))


def reject(sessions: sessionmaker[Session], post_id: int, *, reviewer: str) -> Post:
    """`reviewer` rejected the post (stored with the time): it is never published where it has
    not been yet."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if S.REJECTED not in TRANSITIONS[post.status]:
            raise InvalidTransition(post_id, post.status, S.REJECTED)
        _decided(session, post, Decision.REJECTED, reviewer)
        _move_all(session, post, {S.DRAFT, S.APPROVED, S.FAILED}, S.REJECTED)
        return _set(session, post, **_review(reviewer),
                    **({"status": S.REJECTED} if not post.deliveries else {}))


def posts(sessions: sessionmaker[Session], *statuses: str, limit: int = 50) -> list[Post]:
    """Posts in any of `statuses` (all when none), newest first, with their deliveries."""
    query = select(Post).order_by(Post.id.desc()).limit(limit)
    if statuses:
        query = query.where(Post.status.in_(statuses))
    with sessions() as session:
        return list(session.scalars(query))
