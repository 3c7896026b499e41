"""Leader election: two `nowbot run` processes on one database never both run jobs, and a new
leader does not settle a delivery its predecessor may still be sending."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from service_harness import StubGenerator, create_ticks, start_harness, tick_rows, wait_for
from sqlalchemy import update

from bot import outbox, publishing
from bot.app import App
from bot.core.runtime import Runtime
from bot.leader import LeaderLock
from bot.service import start_scheduler
from storage.base import utcnow
from storage.outbox import Delivery, PostStatus


def test_only_one_lock_holder_until_it_steps_down(app: App) -> None:
    first, second = LeaderLock(app.engine), LeaderLock(app.engine)
    assert first.acquire()
    assert first.acquire()  # idempotent for the holder
    assert not second.acquire()
    assert first.held()
    first.release()
    assert second.acquire()
    assert not first.acquire()
    second.release()


def _assert_once_per_tick(rows: list[tuple[int, float]]) -> None:
    gaps = [later - earlier for (_, earlier), (_, later) in zip(rows, rows[1:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), f"two runs of one tick: {gaps}"


def test_two_processes_run_each_tick_once_and_fail_over(
    sqlite_app: App, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    app = sqlite_app
    create_ticks(app)
    processes.append(start_harness(app, tmp_path / "a"))
    wait_for(lambda: len(tick_rows(app)) >= 1)
    processes.append(start_harness(app, tmp_path / "b"))
    first, second = processes
    time.sleep(4)
    rows = tick_rows(app)
    assert {pid for pid, _ in rows} == {first.pid}  # the follower ran nothing
    assert len(rows) >= 4
    _assert_once_per_tick(rows)

    first.send_signal(signal.SIGTERM)  # clean shutdown: the follower takes over
    assert first.wait(30) == 0
    wait_for(lambda: second.pid in {pid for pid, _ in tick_rows(app)}, timeout=30)
    time.sleep(2)
    rows = tick_rows(app)
    _assert_once_per_tick(rows)
    pids = [pid for pid, _ in rows]
    handover = pids.index(second.pid)
    assert set(pids[:handover]) == {first.pid} and set(pids[handover:]) == {second.pid}
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0


def _claimed(app: App, text: str, ago: timedelta) -> int:
    """A post whose delivery to X was claimed for sending `ago`; returns the delivery's id."""
    with app.sessions.begin() as session:
        post = outbox.create_post(session, platforms=("x",), text=text, hashtag="#siggraphNOW",
                                  review=False)
        delivery_id = post.deliveries[0].id
        outbox.move_delivery(session, delivery_id, PostStatus.PUBLISHING)
        session.execute(update(Delivery).where(Delivery.id == delivery_id)
                        .values(updated_at=utcnow() - ago))
    return delivery_id


def test_a_new_leader_leaves_a_delivery_its_predecessor_may_still_be_sending(app: App) -> None:
    # On PostgreSQL the old leader's lock dies with its connection, at once, while its call to
    # the platform may go on until its deadline.
    fence = publishing.fence(app.settings.publish_deadline_seconds)
    in_flight = _claimed(app, "Claimed a moment ago", timedelta(seconds=1))
    abandoned = _claimed(app, "Claimed before the fence", fence + timedelta(seconds=1))

    start_scheduler(Runtime(app=app, generator=StubGenerator(), publishers={}), []).shutdown()
    with app.sessions() as session:
        assert session.get_one(Delivery, in_flight).status == PostStatus.PUBLISHING
        assert session.get_one(Delivery, abandoned).status == PostStatus.UNKNOWN
