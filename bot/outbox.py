"""The campaign outbox: each post's life, published once and only once.

    draft --approve--> approved --claim--> publishing --> published
      |   <-unapprove--  |                     |--> failed    (refused for good, or out of tries)
      +--reject--+-------+                     |--> unknown   (may have gone through)
                 v                             +--> approved  (certainly not sent: try again later)
              rejected          unknown --reconcile--> published (found on the account)
                                                   --> approved / failed (not there, and the
                                                       account was read back past the attempt)

A post is claimed (approved -> publishing) in its own committed transaction before the request is
sent, and the outcome is committed afterwards. An approved post is claimed once its `publish_at`
(a person's chosen time, if any) and its `scheduled_for` (a platform's retry time) have passed. A crash between the two leaves it `publishing`,
which the leader turns into `unknown` on start; unknown posts are matched by text against the
account's own posts instead of being sent again, and stay unknown while that cannot tell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NowbotError
from bot.platforms.base import NotSent, OutcomeUnknown, Publisher, Rejected, RemotePost
from bot.platforms.catalog import publisher_class
from storage.base import as_utc, utcnow
from storage.outbox import GeneratedItem, Post, PostStatus

log = logging.getLogger("nowbot.outbox")

S = PostStatus
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.APPROVED, S.REJECTED},
    S.APPROVED: {S.PUBLISHING, S.REJECTED, S.DRAFT},
    S.PUBLISHING: {S.PUBLISHED, S.FAILED, S.UNKNOWN, S.APPROVED},
    S.UNKNOWN: {S.PUBLISHED, S.APPROVED, S.FAILED},
    S.FAILED: {S.APPROVED, S.REJECTED},
    S.PUBLISHED: set(),
    S.REJECTED: set(),
}
MAX_ATTEMPTS = 5
STALE_PUBLISHING = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=5)  # between this machine's clock and a platform's


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
    """A text a person wrote that the post's platform cannot take (empty, or too long)."""


class BadTime(OutboxError):
    """A publishing time that cannot be used (unreadable, or already past)."""


# -- transitions -----------------------------------------------------------------------------

def _move(session: Session, post_id: int, target: str, **values: Any) -> Post:
    """Move a post to `target` if its current status allows it.

    The row is locked (`FOR UPDATE` on PostgreSQL) and the update is conditional on the status read,
    so two processes can never both make the same move (SQLite has no row locks; the condition
    is what protects it there).
    """
    post = _get(session, post_id)
    current = post.status
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(post_id, current, target)
    result = session.execute(
        update(Post)
        .where(Post.id == post_id, Post.status == current)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(post_id, "being changed by another process", target)
    session.refresh(post)
    return post


def create_post(
    session: Session,
    *,
    platform: str,
    text: str,
    hashtag: str | None,
    review: bool,
    campaign: str | None = None,
    generated_item_id: int | None = None,
    image_item_id: int | None = None,
) -> Post:
    """Add a post, its text fitted to `platform`: a draft awaiting review, or already approved in
    auto mode."""
    post = Post(
        platform=platform, text=publisher_class(platform).fit_text(text, hashtag), campaign=campaign,
        status=S.DRAFT if review else S.APPROVED, generated_item_id=generated_item_id,
        image_item_id=image_item_id, attempts=0, cost_usd=0.0,
    )
    session.add(post)
    session.flush()
    return post


def approve(sessions: sessionmaker[Session], post_id: int, *, reviewer: str,
            publish_at: datetime | None = None) -> Post:
    """`reviewer` approved the post (stored with the time): it will be published on the first
    outbox run after `publish_at` (the next one when None), with a fresh count of attempts (a
    failed post approved again tries anew). An approved post stays as it is."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if post.status == S.APPROVED:
            return post
        return _move(session, post_id, S.APPROVED, error=None, attempts=0, publish_at=publish_at,
                     **_review(reviewer))


def retime(sessions: sessionmaker[Session], post_id: int, publish_at: datetime, *,
           reviewer: str) -> Post:
    """Publish an approved post at `publish_at` instead (`reviewer` stored as its reviewer)."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        result = session.execute(
            update(Post).where(Post.id == post_id, Post.status == S.APPROVED)
            .values(publish_at=publish_at, updated_at=utcnow(), **_review(reviewer))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise WrongStatus(post_id, post.status, "drafts and approved posts", "scheduled")
        session.refresh(post)
        return post


def unapprove(sessions: sessionmaker[Session], post_id: int) -> Post:
    """Take back an approval: the post becomes a draft again unless publishing has begun."""
    with sessions.begin() as session:
        post = _get(session, post_id)
        if post.status != S.APPROVED:
            raise WrongStatus(post_id, post.status, "approved posts not yet being published",
                              "unapproved")
        return _move(session, post_id, S.DRAFT, publish_at=None, reviewed_by=None,
                     reviewed_at=None)


def reject(sessions: sessionmaker[Session], post_id: int, *, reviewer: str) -> Post:
    """`reviewer` rejected the post (stored with the time): it is never published."""
    with sessions.begin() as session:
        return _move(session, post_id, S.REJECTED, **_review(reviewer))


def _review(reviewer: str) -> dict[str, Any]:
    """The post's review columns: who (cut to the column's width) and when."""
    return {"reviewed_by": reviewer[: Post.reviewed_by.type.length], "reviewed_at": utcnow()}


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


def replace_text(sessions: sessionmaker[Session], post_id: int, text: str, hashtag: str | None,
                 generated_item_id: int | None = None) -> Post:
    """Give a draft a new text (regenerate), fitted to its platform; only drafts can change."""
    with sessions.begin() as session:
        post = _draft(session, post_id, "regenerated")
        post.text = publisher_class(post.platform).fit_text(text, hashtag)
        post.generated_item_id, post.edited_by = generated_item_id, None
        return post


def edit_text(sessions: sessionmaker[Session], post_id: int, text: str, *, editor: str) -> Post:
    """Give a draft the text a person wrote, as written (runs of whitespace made single spaces,
    no hashtag added), if it fits its platform; `editor` is stored with it."""
    text = " ".join(text.split())
    if not text:
        raise BadText(f"post {post_id}: the new text is empty")
    with sessions.begin() as session:
        post = _draft(session, post_id, "edited")
        rules = publisher_class(post.platform)
        length = rules.text_length(text)
        if length > rules.text_limit:
            raise BadText(f"post {post_id}: the text is {length} characters long as "
                          f"{post.platform} counts them; it takes {rules.text_limit}")
        post.text, post.edited_by = text, editor[: Post.edited_by.type.length]
        return post


def posts(sessions: sessionmaker[Session], *statuses: str, limit: int = 50) -> list[Post]:
    """Posts in any of `statuses` (all when none), newest first."""
    query = select(Post).order_by(Post.id.desc()).limit(limit)
    if statuses:
        query = query.where(Post.status.in_(statuses))
    with sessions() as session:
        return list(session.scalars(query))


# -- publishing ------------------------------------------------------------------------------

def month_spend(session: Session, platform: str, now: datetime | None = None) -> float:
    """Estimated cost of what `platform` published this calendar month (UTC)."""
    now = now or utcnow()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = session.scalar(
        select(func.coalesce(func.sum(Post.cost_usd), 0.0)).where(
            Post.platform == platform, Post.published_at >= start
        )
    )
    return float(spent or 0.0)


def _image_path(session: Session, post: Post) -> Path | None:
    if post.image_item_id is None:
        return None
    item = session.get(GeneratedItem, post.image_item_id)
    return Path(item.artifact_path) if item and item.artifact_path else None


def publish_post(sessions: sessionmaker[Session], post_id: int, publisher: Publisher) -> Post:
    """Publish one approved post through `publisher` and record the outcome."""
    with sessions.begin() as session:
        if publisher.monthly_budget_usd is not None:
            spent = month_spend(session, publisher.platform)
            if spent + publisher.cost_per_post_usd > publisher.monthly_budget_usd + 1e-9:
                raise OutboxError(
                    f"monthly {publisher.platform} budget of ${publisher.monthly_budget_usd:.2f} "
                    f"is spent (${spent:.2f}); post {post_id} waits"
                )
        post = _move(session, post_id, S.PUBLISHING, attempts=Post.attempts + 1, error=None,
                     attempted_at=utcnow())
        text, image, attempts = post.text, _image_path(session, post), post.attempts
    try:
        external_id = publisher.publish(post_id, text, image)
    except NotSent as error:
        log.warning("post %s not sent: %s", post_id, error)
        gave_up = error.retry_after is None and attempts >= MAX_ATTEMPTS
        with sessions.begin() as session:
            return _move(
                session, post_id, S.FAILED if gave_up else S.APPROVED, error=str(error),
                scheduled_for=error.retry_after,
            )
    except Rejected as error:
        log.error("post %s refused: %s", post_id, error)
        with sessions.begin() as session:
            return _move(session, post_id, S.FAILED, error=str(error))
    except Exception as error:  # noqa: BLE001  (anything else: it may have gone through)
        reason = str(error) if isinstance(error, OutcomeUnknown) else f"{type(error).__name__}: {error}"
        log.warning("post %s outcome unknown, will reconcile: %s", post_id, reason)
        with sessions.begin() as session:
            return _move(session, post_id, S.UNKNOWN, error=reason)
    log.info("post %s published on %s as %s", post_id, publisher.platform, external_id)
    with sessions.begin() as session:
        return _move(
            session, post_id, S.PUBLISHED, external_id=external_id,
            cost_usd=publisher.cost_per_post_usd, published_at=utcnow(),
        )


def publish_due(sessions: sessionmaker[Session], publishers: Mapping[str, Publisher],
                limit: int = 10) -> list[Post]:
    """Publish approved posts whose time has come, oldest first, on platforms we can reach."""
    publishers = dict(publishers)  # adapters may add or remove theirs meanwhile
    now = utcnow()
    with sessions() as session:
        due = list(session.scalars(
            select(Post.id).where(
                Post.status == S.APPROVED,
                Post.platform.in_(list(publishers)),
                (Post.scheduled_for.is_(None)) | (Post.scheduled_for <= now),
                (Post.publish_at.is_(None)) | (Post.publish_at <= now),
            ).order_by(Post.id).limit(limit)
        ))
        platforms = dict(session.execute(select(Post.id, Post.platform).where(Post.id.in_(due))).all())
    done = []
    for post_id in due:
        try:
            done.append(publish_post(sessions, post_id, publishers[platforms[post_id]]))
        except OutboxError as error:
            log.info("%s", error)
    return done


def mark_interrupted(sessions: sessionmaker[Session], older_than: timedelta = timedelta(0)) -> int:
    """Posts left `publishing` (the process died mid-request) become `unknown`; returns how many."""
    cutoff = utcnow() - older_than
    with sessions.begin() as session:
        result = session.execute(
            update(Post)
            .where(Post.status == S.PUBLISHING, Post.updated_at <= cutoff)
            .values(status=S.UNKNOWN, updated_at=utcnow(), error="interrupted while publishing")
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def reconcile(
    sessions: sessionmaker[Session],
    publishers: Mapping[str, Publisher],
    *,
    settle: timedelta = timedelta(minutes=2),
    recent_limit: int = 20,
    read_budget: int = 200,
) -> list[Post]:
    """Resolve `unknown` posts against each account's own newest posts.

    The account is read `recent_limit` posts at a time, more (up to `read_budget`: X bills every
    post read) until the posts read reach back past the oldest uncertain attempt. A post found
    by its text (compared as its platform's `normalized` says) becomes `published` with the
    platform's id. One not found although the reading reached back past its attempt goes back
    to `approved` once `settle` has passed (time for the platform to show it), or `failed`
    after `MAX_ATTEMPTS`. One the reading could not reach stays `unknown` (never sent again
    blindly) and is logged for a person to check.
    """
    with sessions() as session:
        unknown = list(session.scalars(select(Post).where(Post.status == S.UNKNOWN).order_by(Post.id)))
        claimed = set(session.scalars(select(Post.external_id).where(Post.external_id.is_not(None))))
    resolved = []
    for platform in sorted({post.platform for post in unknown}):
        publisher = publishers.get(platform)
        if publisher is None:
            continue
        waiting = [p for p in unknown if p.platform == platform]
        normalized = publisher_class(platform).normalized
        try:
            remote, complete = _read_back(publisher, waiting, normalized, recent_limit, read_budget)
        except Exception as error:  # noqa: BLE001  (try again on the next run)
            log.warning("cannot reconcile %s posts now: %s", platform, error)
            continue
        by_text: dict[str, str] = {}
        for item in reversed(remote):  # newest wins
            by_text[normalized(item.text)] = item.external_id
        for post in waiting:
            match = by_text.get(normalized(post.text))
            settled = utcnow() - (as_utc(post.updated_at) or utcnow()) >= settle
            with sessions.begin() as session:
                if match and match not in claimed:
                    claimed.add(match)
                    log.info("post %s found on %s as %s", post.id, platform, match)
                    resolved.append(_move(
                        session, post.id, S.PUBLISHED, external_id=match, error=None,
                        cost_usd=publisher.cost_per_post_usd,
                        published_at=utcnow(),
                    ))
                elif settled and _reached(remote, complete, post):
                    target = S.FAILED if post.attempts >= MAX_ATTEMPTS else S.APPROVED
                    resolved.append(_move(
                        session, post.id, target, error=f"not found on {platform} after the "
                        f"uncertain attempt ({post.error})",
                    ))
                elif settled:
                    log.warning(
                        "post %s: cannot tell whether it reached %s (its %d newest posts go back "
                        "less far than the attempt); it stays unknown: check the account",
                        post.id, platform, len(remote),
                    )
    return resolved


def _read_back(
    publisher: Publisher, waiting: list[Post], normalized: Callable[[str], str],
    limit: int, budget: int,
) -> tuple[list[RemotePost], bool]:
    """The account's newest posts, read until every waiting post is found or the reading
    reaches back past every attempt; also whether the account has no older posts."""
    while True:
        remote = publisher.recent_posts(limit)
        complete = len(remote) < limit  # the account has no more posts than these
        found = {normalized(item.text) for item in remote}
        if complete or limit >= budget or all(
            normalized(p.text) in found or _reached(remote, False, p) for p in waiting
        ):
            return remote, complete
        limit = min(limit * 4, budget)


def _reached(remote: list[RemotePost], complete: bool, post: Post) -> bool:
    """Whether `remote` (newest first) goes back past `post`'s last attempt, so that its
    absence there means it was not created."""
    if complete:
        return True
    attempted = as_utc(post.attempted_at)
    oldest = remote[-1].created_at if remote else None
    return attempted is not None and oldest is not None and oldest < attempted - CLOCK_SKEW
