"""Each platform's circuit breaker: a platform whose deliveries fail `BREAK_AFTER` times in a row
(no connection, no answer, an unknown outcome) is paused, for `FIRST_PAUSE` and then twice as
long after each failed trial, at most `LONGEST_PAUSE`; one success closes it again. Rate limits
and refused posts are the platform answering, not failing. Kept in the database, so that every
process's dashboard shows it and a new leader keeps it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.base import as_utc, utcnow
from storage.outbox import PlatformHealth

log = logging.getLogger("nowbot.outbox")

BREAK_AFTER = 3
FIRST_PAUSE = timedelta(minutes=1)
LONGEST_PAUSE = timedelta(minutes=30)


def pause_for(failures: int) -> timedelta:
    """How long a platform with `failures` failures in a row is paused."""
    if failures < BREAK_AFTER:
        return timedelta(0)
    return min(FIRST_PAUSE * 2 ** min(failures - BREAK_AFTER, 16), LONGEST_PAUSE)


def record(session: Session, platform: str, *, failed: str | None) -> None:
    """Count a delivery's outcome on `platform` (`failed`: why, or None for a success), in the
    caller's transaction (the delivery's own move)."""
    row = session.get(PlatformHealth, platform, with_for_update=True)
    if row is None:
        row = PlatformHealth(platform=platform, failures=0)
        session.add(row)
    if failed is None:
        if row.paused_until is not None or row.failures:
            log.info("%s answers again: publishing there resumes", platform)
        row.failures, row.paused_until, row.last_error = 0, None, None
        return
    row.failures += 1
    row.last_error = failed
    pause = pause_for(row.failures)
    if pause:
        row.paused_until = utcnow() + pause
        log.warning("%s failed %d times in a row (%s): pausing it until %s UTC", platform,
                    row.failures, failed, f"{row.paused_until:%H:%M:%S}")


def paused_until(session: Session, platform: str, now: datetime | None = None) -> datetime | None:
    """Until when `platform` is paused (None: it is not)."""
    until = as_utc(session.scalar(select(PlatformHealth.paused_until)
                                  .where(PlatformHealth.platform == platform)))
    return until if until is not None and until > (now or utcnow()) else None


def states(session: Session) -> list[PlatformHealth]:
    """Every platform that has failed since its last success, by name."""
    return list(session.scalars(select(PlatformHealth).where(PlatformHealth.failures > 0)
                                .order_by(PlatformHealth.platform)))


def summary(row: PlatformHealth, now: datetime | None = None) -> str:
    """The platform's state in one line a person reads."""
    until = as_utc(row.paused_until)
    state = (f"paused until {until:%H:%M:%S} UTC" if until is not None and until > (now or utcnow())
             else "trying again")
    return f"{row.platform}: {state} after {row.failures} failures in a row ({row.last_error})"


def summaries(session: Session) -> list[str]:
    """`summary` of every platform that has failed since its last success."""
    return [summary(row) for row in states(session)]
