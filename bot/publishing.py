"""Delivering approved posts: each platform's delivery published once and only once.

A delivery is claimed (approved -> publishing) in its own committed transaction before the request
is sent, and the outcome is committed afterwards. An approved delivery is claimed once its post's
`publish_at` (a person's chosen time, if any) and its own `scheduled_for` (a platform's retry time)
have passed. Each call to a platform has a total deadline (`deadline_s`: connect, read and the
client's retries together), so a delivery left `publishing` longer than `fence` was abandoned by
a process that died or lost its leadership: it becomes `unknown` then, and not before, so that a
new leader never touches a delivery its predecessor may still be sending.

An unknown delivery is never sent again blindly: on a platform that recognises the same delivery
sent again (`Publisher.resend_safe_for`: Mastodon's Idempotency-Key within its lifetime counted
from the first uncertain attempt, Bluesky's record key, the local folder's file name) it is sent
again with the same key, decided again at the moment of sending; elsewhere, or later, it is
matched by text against the account's own posts created since that attempt, and stays unknown
while that cannot tell. Nothing is tried more than `MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import platform_health
from bot.outbox import OutboxError, move_delivery, sync_status
from bot.platforms.base import NotSent, Outgoing, OutcomeUnknown, Publisher, Rejected, RemotePost
from bot.platforms.catalog import publisher_class
from bot.platforms.transport import deadline
from storage.base import as_utc, utcnow
from storage.outbox import Delivery, GeneratedItem, Post, PostStatus

log = logging.getLogger("nowbot.outbox")

S = PostStatus
MAX_ATTEMPTS = 5
CLOCK_SKEW = timedelta(minutes=5)  # between this machine's clock and a platform's
FENCE_MARGIN = timedelta(seconds=30)  # past a call's deadline, for its outcome to be written


def fence(deadline_s: float) -> timedelta:
    """How long after it was claimed a delivery's call, with a deadline of `deadline_s`, has
    certainly ended (its process's outcome written, or the process gone)."""
    return timedelta(seconds=deadline_s) + FENCE_MARGIN


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


def _resend_unsafe(delivery: Delivery, publisher: Publisher) -> str | None:
    """Why sending `delivery` now could make a second post (None: it cannot): an earlier
    attempt's outcome is unknown and the platform's key no longer covers it."""
    doubt = as_utc(delivery.unsure_since)
    if doubt is None and delivery.status == S.UNKNOWN:  # written before doubts were kept
        doubt = as_utc(delivery.attempted_at) or utcnow()
    if doubt is None or utcnow() - doubt < publisher.resend_safe_for:
        return None
    return (f"an earlier attempt ({doubt:%Y-%m-%d %H:%M:%S} UTC) may have gone through, and "
            f"{publisher.platform} would no longer recognise it sent again")


def publish_delivery(sessions: sessionmaker[Session], delivery_id: int,
                     publisher: Publisher, deadline_s: float = 60.0) -> Delivery:
    """Publish one approved delivery through `publisher` within `deadline_s` seconds and record
    the outcome (and the platform's health with it)."""
    platform = publisher.platform
    with sessions.begin() as session:
        if publisher.monthly_budget_usd is not None:
            spent = month_spend(session, publisher.platform)
            if spent + publisher.cost_per_post_usd > publisher.monthly_budget_usd + 1e-9:
                raise OutboxError(
                    f"monthly {publisher.platform} budget of ${publisher.monthly_budget_usd:.2f} "
                    f"is spent (${spent:.2f}); delivery {delivery_id} waits"
                )
        current = session.get_one(Delivery, delivery_id)
        if unsafe := _resend_unsafe(current, publisher):
            log.warning("post %s on %s is not sent again: %s; reconciling it instead",
                        current.post_id, platform, unsafe)
            return move_delivery(session, delivery_id, S.UNKNOWN, error=f"not sent: {unsafe}")
        delivery = move_delivery(session, delivery_id, S.PUBLISHING, attempts=Delivery.attempts + 1,
                                 error=None, attempted_at=utcnow())
        item, attempts = outgoing(session, delivery), delivery.attempts
        attempted = delivery.attempted_at
    where = f"post {item.post_id} on {platform}"
    try:
        with deadline(deadline_s):
            external_id = publisher.publish(item)
    except NotSent as error:
        log.warning("%s not sent: %s", where, error)
        gave_up = error.retry_after is None and attempts >= MAX_ATTEMPTS
        with sessions.begin() as session:
            if error.retry_after is None:  # not a rate limit: the platform did not answer
                platform_health.record(session, platform, failed=str(error))
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
            platform_health.record(session, platform, failed=reason)
            return move_delivery(session, delivery_id, S.UNKNOWN, error=reason,
                                 unsure_since=func.coalesce(Delivery.unsure_since, attempted))
    log.info("post %s published on %s as %s", item.post_id, platform, external_id)
    with sessions.begin() as session:
        platform_health.record(session, platform, failed=None)
        return move_delivery(session, delivery_id, S.PUBLISHED, external_id=external_id,
                             cost_usd=publisher.cost_per_post_usd, published_at=utcnow())


def publish_due(sessions: sessionmaker[Session], publishers: Mapping[str, Publisher],
                limit: int = 10, deadline_s: float = 60.0) -> list[Delivery]:
    """Publish approved deliveries whose time has come, oldest first, on platforms we can reach
    and have not paused (`platform_health`), each within `deadline_s` seconds."""
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
        with sessions() as session:
            if platform_health.paused_until(session, platform):
                continue
        try:
            done.append(publish_delivery(sessions, delivery_id, publishers[platform], deadline_s))
        except OutboxError as error:
            log.info("%s", error)
    return done


def mark_interrupted(sessions: sessionmaker[Session], older_than: timedelta = timedelta(0),
                     busy: Collection[str] = ()) -> int:
    """Deliveries left `publishing` longer than `older_than` (their process died, or lost its
    leadership, mid-request) become `unknown`, except on the `busy` platforms (this process is
    still sending there); returns how many."""
    cutoff = utcnow() - older_than
    with sessions.begin() as session:
        stranded = session.execute(
            select(Delivery.id, Delivery.post_id)
            .where(Delivery.status == S.PUBLISHING, Delivery.updated_at <= cutoff,
                   Delivery.platform.not_in(list(busy)))
        ).all()
        if not stranded:
            return 0
        result = session.execute(
            update(Delivery)
            .where(Delivery.id.in_([d for d, _ in stranded]), Delivery.status == S.PUBLISHING)
            .values(status=S.UNKNOWN, updated_at=utcnow(), error="interrupted while publishing",
                    unsure_since=func.coalesce(Delivery.unsure_since, Delivery.attempted_at))
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
    deadline_s: float = 60.0,
) -> list[Delivery]:
    """Resolve `unknown` deliveries: send again those the platform recognises by their key
    (within `MAX_ATTEMPTS`), and match the others against each account's own newest posts.

    The account is read `recent_limit` posts at a time, more (up to `read_budget`: X bills every
    post read) until the posts read reach back past the oldest uncertain attempt. A delivery
    found by its text (compared as its platform's `normalized` says) among the posts created
    since its first uncertain attempt becomes `published` with the platform's id. One not found
    although the reading reached back past its attempt goes back to `approved` once `settle` has
    passed (time for the platform to show it), or `failed` after `MAX_ATTEMPTS`. One the reading could not reach stays `unknown` (never sent again
    blindly) and is logged for a person to check. Reading an account takes at most
    `deadline_s` seconds.
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
            if delivery.attempts < MAX_ATTEMPTS and _resend_unsafe(delivery, publisher) is None:
                log.info("post %s on %s: sent again with the same key, which %s recognises",
                         delivery.post_id, platform, platform)
                with sessions.begin() as session:
                    resolved.append(move_delivery(session, delivery.id, S.APPROVED,
                                                  error=f"resent with its key ({delivery.error})"))
            else:
                waiting.append(delivery)
        if waiting:
            with deadline(deadline_s):
                resolved += _match(sessions, publisher, waiting, settle, recent_limit,
                                   read_budget)
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
    resolved = []
    for delivery in waiting:
        match = _newest_since(remote, normalized, delivery, claimed)
        settled = utcnow() - (as_utc(delivery.updated_at) or utcnow()) >= settle
        with sessions.begin() as session:
            if match:
                claimed.add(match)
                log.info("post %s found on %s as %s", delivery.post_id, platform, match)
                resolved.append(move_delivery(
                    session, delivery.id, S.PUBLISHED, external_id=match, error=None,
                    cost_usd=publisher.cost_per_post_usd, published_at=utcnow(),
                ))
            elif settled and _reached(remote, complete, delivery):
                target = S.FAILED if delivery.attempts >= MAX_ATTEMPTS else S.APPROVED
                resolved.append(move_delivery(
                    session, delivery.id, target, unsure_since=None, error=f"not found on "
                    f"{platform} after the uncertain attempt ({delivery.error})",
                ))
            elif settled:
                log.warning(
                    "post %s: cannot tell whether it reached %s (its %d newest posts go back "
                    "less far than the attempt); it stays unknown: check the account",
                    delivery.post_id, platform, len(remote),
                )
    return resolved


def _newest_since(remote: list[RemotePost], normalized: Callable[[str], str],
                  delivery: Delivery, claimed: set[str]) -> str | None:
    """The id of the newest post in `remote` with `delivery`'s text, created since its first
    uncertain attempt (an older post with the same text is another post) and not already
    another delivery's."""
    text = normalized(delivery.text)
    doubt = as_utc(delivery.unsure_since) or as_utc(delivery.attempted_at)
    for item in remote:  # newest first
        created = item.created_at
        if item.external_id not in claimed and normalized(item.text) == text and (
                doubt is None or created is None or created >= doubt - CLOCK_SKEW):
            return item.external_id
    return None


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


def platform_round(sessions: sessionmaker[Session], publisher: Publisher,
                   deadline_s: float = 60.0) -> list[Delivery]:
    """One outbox run on one platform: reconcile its unknown deliveries, then publish what is
    due there; nothing while its circuit breaker has it paused. Returns the deliveries tried."""
    with sessions() as session:
        until = platform_health.paused_until(session, publisher.platform)
    if until is not None:
        log.info("%s is paused until %s UTC after repeated failures", publisher.platform,
                 f"{until:%H:%M:%S}")
        return []
    only = {publisher.platform: publisher}
    reconcile(sessions, only, deadline_s=deadline_s)
    return publish_due(sessions, only, deadline_s=deadline_s)
