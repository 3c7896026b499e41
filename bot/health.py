"""Whether this process's service is well, for `/healthz` and the leader loop (`bot.service`).

A leader whose scheduler is sick (`bot.scheduler.problems`) gives up its lock so that another
process can lead; it stays unwell here, and waits before it tries to lead again, until it leads
again. One service runs per process, so its health is this module's `SERVICE`.
"""

from __future__ import annotations

import time

from bot.core.runtime import Runtime
from bot.scheduler import problems as scheduler_problems

MAX_WAIT_S = 300.0


class Health:
    """The problem that made this process give up leading, and when it may try again."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Well, and free to lead (a service starting)."""
        self.problem: str | None = None
        self.retry_at = 0.0  # time.monotonic()
        self.wait_s = 0.0
        self.led_since: float | None = None

    def gave_up(self, problem: str, first_wait_s: float) -> float:
        """Record `problem`; returns the seconds to wait before leading again: `first_wait_s`,
        doubling while leading keeps failing, at most `MAX_WAIT_S`, and `first_wait_s` again
        after a leadership that lasted that long."""
        now = time.monotonic()
        if self.led_since is not None and now - self.led_since >= MAX_WAIT_S:
            self.wait_s = 0.0
        self.wait_s = min(max(2 * self.wait_s, first_wait_s), MAX_WAIT_S)
        self.problem, self.retry_at, self.led_since = problem, now + self.wait_s, None
        return self.wait_s

    def may_lead(self) -> bool:
        return time.monotonic() >= self.retry_at

    def leading(self) -> None:
        """This process leads (again): well."""
        self.problem, self.led_since = None, time.monotonic()


SERVICE = Health()


def problems(runtime: Runtime) -> list[str]:
    """What is wrong with this process's service now, one line each; none when it is well."""
    found = scheduler_problems(runtime.scheduler) if runtime.scheduler is not None else []
    return found + ([SERVICE.problem] if SERVICE.problem else [])
