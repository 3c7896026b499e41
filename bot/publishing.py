"""Delivering approved posts: each platform's delivery published once and only once.

A delivery is claimed (approved -> publishing) in its own committed transaction before the request
is sent, and the outcome is committed afterwards. An approved delivery is claimed once its post's
`publish_at` (a person's chosen time, if any) and its own `scheduled_for` (a platform's retry time)
have passed. A crash between the two leaves it `publishing`, which the leader turns into `unknown`
on start. An unknown delivery is never sent again blindly: on a platform that recognises the
same delivery sent again (`Publisher.resend_safe_for`: Mastodon's Idempotency-Key within its
lifetime, Bluesky's record key, the local folder's file name) it is sent again with the same key;
elsewhere, or later, it is matched by text against the account's own posts, and stays unknown
while that cannot tell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox import OutboxError, move_delivery, sync_status
from bot.platforms.base import NotSent, Outgoing, OutcomeUnknown, Publisher, Rejected, RemotePost
from bot.platforms.catalog import publisher_class
from storage.base import as_utc, utcnow
from storage.outbox import Delivery, GeneratedItem, Post, PostStatus

log = logging.getLogger("nowbot.outbox")

S = PostStatus
MAX_ATTEMPTS = 5
STALE_PUBLISHING = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=5)  # between this machine's clock and a platform's


def month_spend(session: Session, platform: str, now: datetime | None = None) -> float:
    """Estimated cost of what `platform` published this calendar month (UTC)."""
    now = now or utcnow()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = session.scalar(
        select(func.coalesce(func.sum(Delivery.cost_usd), 0.0)).where(
            Delivery.platform == platform, Delivery.published_at >= start
        )
    )
    return float(spent or 0.0)


def delivery_key(delivery: Delivery) -> str:
    """The delivery's own key, the same on every attempt and never shared by another delivery
    (its id and creation time, so that a fresh database does not reuse an old one's)."""
    created = as_utc(delivery.created_at)
    assert created is not None
    return f"nowbot-{delivery.id}-{int(created.timestamp() * 1_000_000)}"


def outgoing(session: Session, delivery: Delivery) -> Outgoing:
    """What a platform is handed to publish `delivery`."""
    post = session.get_one(Post, delivery.post_id)
    image = None
    if post.image_item_id is not None:
        item = session.get(GeneratedItem, post.image_item_id)
        image = Path(item.artifact_path) if item and item.artifact_path else None
    created = as_utc(delivery.created_at)
    assert created is not None
    return Outgoing(delivery_id=delivery.id, post_id=post.id, text=delivery.text, image=image,
                    alt=post.image_alt, key=delivery_key(delivery), created_at=created)


def publish_delivery(sessions: sessionmaker[Session], delivery_id: int,
                     publisher: Publisher) -> Delivery:
    """Publish one approved delivery through `publisher` and record the outcome."""
    with sessions.begin() as session:
        if publisher.monthly_budget_usd is not None:
            spent = month_spend(session, publisher.platform)
            if spent + publisher.cost_per_post_usd > publisher.monthly_budget_usd + 1e-9:
                raise OutboxError(
                    f"monthly {publisher.platform} budget of ${publisher.monthly_budget_usd:.2f} "
                    f"is spent (${spent:.2f}); delivery {delivery_id} waits"
                )
        delivery = move_delivery(session, delivery_id, S.PUBLISHING, attempts=Delivery.attempts + 1,
                                 error=None, attempted_at=utcnow())
        item, attempts = outgoing(session, delivery), delivery.attempts
    where = f"post {item.post_id} on {publisher.platform}"
    try:
        external_id = publisher.publish(item)
    except NotSent as error:
        log.warning("%s not sent: %s", where, error)
        gave_up = error.retry_after is None and attempts >= MAX_ATTEMPTS
        with sessions.begin() as session:
            return move_delivery(session, delivery_id, S.FAILED if gave_up else S.APPROVED,
                                 error=str(error), scheduled_for=error.retry_after)
    except Rejected as error:
        log.error("%s refused: %s", where, error)
        with sessions.begin() as session:
            return move_delivery(session, delivery_id, S.FAILED, error=str(error))
    except Exception as error:  # noqa: BLE001  (anything else: it may have gone through)
        reason = str(error) if isinstance(error, OutcomeUnknown) else f"{type(error).__name__}: {error}"
        log.warning("%s outcome unknown, will reconcile: %s", where, reason)
        with sessions.begin() as session:
            return move_delivery(session, delivery_id, S.UNKNOWN, error=reason)
    log.info("post %s published on %s as %s", item.post_id, publisher.platform, external_id)
    with sessions.begin() as session:
        return move_delivery(session, delivery_id, S.PUBLISHED, external_id=external_id,
                             cost_usd=publisher.cost_per_post_usd, published_at=utcnow())


def publish_due(sessions: sessionmaker[Session], publishers: Mapping[str, Publisher],
                limit: int = 10) -> list[Delivery]:
    """Publish approved deliveries whose time has come, oldest first, on platforms we can reach."""
    publishers = dict(publishers)  # adapters may add or remove theirs meanwhile
    now = utcnow()
    with sessions() as session:
        due = session.execute(
            select(Delivery.id, Delivery.platform).join(Post, Post.id == Delivery.post_id).where(
                Delivery.status == S.APPROVED,
                Delivery.platform.in_(list(publishers)),
                (Delivery.scheduled_for.is_(None)) | (Delivery.scheduled_for <= now),
                (Post.publish_at.is_(None)) | (Post.publish_at <= now),
            ).order_by(Delivery.id).limit(limit)
        ).all()
    done = []
    for delivery_id, platform in due:
        try:
            done.append(publish_delivery(sessions, delivery_id, publishers[platform]))
        except OutboxError as error:
            log.info("%s", error)
    return done


def mark_interrupted(sessions: sessionmaker[Session], older_than: timedelta = timedelta(0)) -> int:
    """Deliveries left `publishing` (the process died mid-request) become `unknown`; returns how
    many."""
    cutoff = utcnow() - older_than
    with sessions.begin() as session:
        stranded = session.execute(
            select(Delivery.id, Delivery.post_id)
            .where(Delivery.status == S.PUBLISHING, Delivery.updated_at <= cutoff)
        ).all()
        if not stranded:
            return 0
        result = session.execute(
            update(Delivery)
            .where(Delivery.id.in_([d for d, _ in stranded]), Delivery.status == S.PUBLISHING)
            .values(status=S.UNKNOWN, updated_at=utcnow(), error="interrupted while publishing")
            .execution_options(synchronize_session=False)
        )
        for post_id in sorted({p for _, p in stranded}):
            sync_status(session, post_id)
        return int(result.rowcount)  # type: ignore[attr-defined]


def reconcile(
    sessions: sessionmaker[Session],
    publishers: Mapping[str, Publisher],
    *,
    settle: timedelta = timedelta(minutes=2),
    recent_limit: int = 20,
    read_budget: int = 200,
) -> list[Delivery]:
    """Resolve `unknown` deliveries: send again those the platform recognises by their key, and
    match the others against each account's own newest posts.

    The account is read `recent_limit` posts at a time, more (up to `read_budget`: X bills every
    post read) until the posts read reach back past the oldest uncertain attempt. A delivery
    found by its text (compared as its platform's `normalized` says) becomes `published` with the
    platform's id. One not found although the reading reached back past its attempt goes back
    to `approved` once `settle` has passed (time for the platform to show it), or `failed`
    after `MAX_ATTEMPTS`. One the reading could not reach stays `unknown` (never sent again
    blindly) and is logged for a person to check.
    """
    with sessions() as session:
        unknown = list(session.scalars(
            select(Delivery).where(Delivery.status == S.UNKNOWN).order_by(Delivery.id)))
    resolved = []
    for platform in sorted({d.platform for d in unknown}):
        publisher = publishers.get(platform)
        if publisher is None:
            continue
        waiting = []
        for delivery in (d for d in unknown if d.platform == platform):
            attempted = as_utc(delivery.attempted_at) or utcnow()
            if utcnow() - attempted < publisher.resend_safe_for:
                log.info("post %s on %s: sent again with the same key, which %s recognises",
                         delivery.post_id, platform, platform)
                with sessions.begin() as session:
                    resolved.append(move_delivery(session, delivery.id, S.APPROVED,
                                                  error=f"resent with its key ({delivery.error})"))
            else:
                waiting.append(delivery)
        if waiting:
            resolved += _match(sessions, publisher, waiting, settle, recent_limit, read_budget)
    return resolved


def _match(sessions: sessionmaker[Session], publisher: Publisher, waiting: list[Delivery],
           settle: timedelta, recent_limit: int, read_budget: int) -> list[Delivery]:
    """Reconcile `waiting` (unknown deliveries to `publisher`'s platform) by their texts."""
    platform = publisher.platform
    normalized = publisher_class(platform).normalized
    with sessions() as session:
        claimed = set(session.scalars(select(Delivery.external_id).where(
            Delivery.platform == platform, Delivery.external_id.is_not(None))))
    try:
        remote, complete = _read_back(publisher, waiting, normalized, recent_limit, read_budget)
    except Exception as error:  # noqa: BLE001  (try again on the next run)
        log.warning("cannot reconcile %s posts now: %s", platform, error)
        return []
    by_text: dict[str, str] = {}
    for item in reversed(remote):  # newest wins
        by_text[normalized(item.text)] = item.external_id
    resolved = []
    for delivery in waiting:
        match = by_text.get(normalized(delivery.text))
        settled = utcnow() - (as_utc(delivery.updated_at) or utcnow()) >= settle
        with sessions.begin() as session:
            if match and match not in claimed:
                claimed.add(match)
                log.info("post %s found on %s as %s", delivery.post_id, platform, match)
                resolved.append(move_delivery(
                    session, delivery.id, S.PUBLISHED, external_id=match, error=None,
                    cost_usd=publisher.cost_per_post_usd, published_at=utcnow(),
                ))
            elif settled and _reached(remote, complete, delivery):
                target = S.FAILED if delivery.attempts >= MAX_ATTEMPTS else S.APPROVED
                resolved.append(move_delivery(
                    session, delivery.id, target, error=f"not found on {platform} after the "
                    f"uncertain attempt ({delivery.error})",
                ))
            elif settled:
                log.warning(
                    "post %s: cannot tell whether it reached %s (its %d newest posts go back "
                    "less far than the attempt); it stays unknown: check the account",
                    delivery.post_id, platform, len(remote),
                )
    return resolved


def _read_back(
    publisher: Publisher, waiting: list[Delivery], normalized: Callable[[str], str],
    limit: int, budget: int,
) -> tuple[list[RemotePost], bool]:
    """The account's newest posts, read until every waiting delivery is found or the reading
    reaches back past every attempt; also whether the account has no older posts."""
    while True:
        remote = publisher.recent_posts(limit)
        complete = len(remote) < limit  # the account has no more posts than these
        found = {normalized(item.text) for item in remote}
        if complete or limit >= budget or all(
            normalized(d.text) in found or _reached(remote, False, d) for d in waiting
        ):
            return remote, complete
        limit = min(limit * 4, budget)


def _reached(remote: list[RemotePost], complete: bool, delivery: Delivery) -> bool:
    """Whether `remote` (newest first) goes back past `delivery`'s last attempt, so that its
    absence there means it was not created."""
    if complete:
        return True
    attempted = as_utc(delivery.attempted_at)
    oldest = remote[-1].created_at if remote else None
    return attempted is not None and oldest is not None and oldest < attempted - CLOCK_SKEW
