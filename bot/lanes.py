"""One lane per platform: each platform's outbox round runs in a thread of its own, so that a
platform that hangs or fails holds up only its own deliveries, never another platform's or the
next outbox run. A lane still busy when the next run comes is left to finish; its platform waits
for a later run. The threads are daemons: a process that stops does not wait for a hung
platform (a delivery it leaves mid-request is settled by the next leader, after its deadline).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger("nowbot.outbox")
T = TypeVar("T")


class Lanes:
    """The platforms' lanes of one process."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[Future[Any], float]] = {}
        self._lock = threading.Lock()

    def start(self, platform: str, work: Callable[[], T]) -> Future[T] | None:
        """Run `work` in `platform`'s lane; None (and nothing run) while the lane is busy."""
        with self._lock:
            running = self._running.get(platform)
            if running is not None and not running[0].done():
                log.info("%s is still busy with the last outbox run (%.0f s); it waits",
                         platform, time.monotonic() - running[1])
                return None
            future: Future[T] = Future()
            self._running[platform] = (future, time.monotonic())

        def run() -> None:
            try:
                future.set_result(work())
            except BaseException as error:  # noqa: BLE001  (kept for the caller to see)
                log.exception("the outbox run on %s failed", platform)
                future.set_exception(error)

        threading.Thread(target=run, name=f"outbox-{platform}", daemon=True).start()
        return future

    def busy(self) -> list[str]:
        """The platforms whose lane is working now."""
        with self._lock:
            return sorted(p for p, (future, _) in self._running.items() if not future.done())
