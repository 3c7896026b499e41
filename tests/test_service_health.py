"""A service that knows it is sick: a scheduler thread killed by a failed write, or a job that
hangs past its interval, makes /healthz answer 503 with the reason and says so in one console
line; the leader gives up its lock (another process can lead) and leads again later, or exits
(`NOWBOT_EXIT_WHEN_SICK`). SIGTERM stops a real service process within seconds whatever its jobs
do, and a second one at once."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from apscheduler.triggers.interval import IntervalTrigger
from service_harness import (
    StubGenerator, create_ticks, end, every_second, free_port, start_harness, tick_rows, wait_for,
)
from sqlalchemy import event

from bot import scheduler
from bot.app import App
from bot.leader import LeaderLock
from bot.logs import ConsoleFormatter
from bot.scheduler import JOBS_TABLE, JobSpec
from bot.service import ServiceSick, serve
from storage.db import make_engine, session_factory

T = TypeVar("T")
Health = Callable[[], Awaitable[tuple[int, dict[str, Any]] | None]]
RELEASE = threading.Event()


def stuck() -> None:
    """A job that hangs until the test lets it go."""
    RELEASE.wait()


STUCK = JobSpec("stuck", "test_service_health:stuck", IntervalTrigger(seconds=1, timezone=UTC),
                "hang", first_run_now=True)


@pytest.fixture
def health_app(sqlite_app: App) -> Iterator[App]:
    """The service's app on a free dashboard port, with the harness's `ticks` table."""
    create_ticks(sqlite_app)
    RELEASE.clear()
    yield App(settings=sqlite_app.settings.model_copy(update={"dashboard_port": free_port()}),
              engine=sqlite_app.engine, sessions=sqlite_app.sessions)
    RELEASE.set()


def refuse_next_job_store_write(app: App) -> None:
    """SQLite refuses the next write to the scheduler's job store, once (as a full disk would;
    an authorizer on every connection of the app's real database)."""
    refused = threading.Event()

    def authorize(action: int, table: str | None, *_: str | None) -> int:
        if action == sqlite3.SQLITE_UPDATE and table == JOBS_TABLE and not refused.is_set():
            refused.set()
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    event.listen(app.engine, "connect", lambda connection, _: connection.set_authorizer(authorize))
    app.engine.dispose()


@asynccontextmanager
async def serving(app: App, specs: list[JobSpec]) -> AsyncIterator[Health]:
    """`serve` running `specs` until the block ends; yields a reader of its /healthz (None while
    the dashboard does not answer)."""
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, StubGenerator(), stop=stop, publishers={},
                                        adapters=[], specs=specs, seed=False, leader_poll_s=0.2))
    url = f"http://127.0.0.1:{app.settings.dashboard_port}/healthz"
    async with aiohttp.ClientSession() as client:

        async def healthz() -> tuple[int, dict[str, Any]] | None:
            assert not service.done(), service.exception()
            try:
                async with client.get(url) as response:
                    return response.status, await response.json()
            except aiohttp.ClientConnectionError:
                return None

        try:
            yield healthz
        finally:
            stop.set()
            await service


async def until(check: Callable[[], Awaitable[T | None]], timeout: float = 60.0) -> T:
    """`check()`'s first true result, tried every 50 ms."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


def sick(healthz: Health) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def check() -> dict[str, Any] | None:
        seen = await healthz()
        return seen[1] if seen is not None and seen[0] == 503 else None
    return check


def leading(healthz: Health) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def check() -> dict[str, Any] | None:
        seen = await healthz()
        return seen[1] if seen is not None and seen[0] == 200 and seen[1]["leader"] else None
    return check


def test_a_scheduler_thread_killed_by_a_failed_write_hands_over_and_leads_again(
    health_app: App, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    app = health_app
    refuse_next_job_store_write(app)  # the first run's job store update kills the thread
    other = LeaderLock(app.engine)  # another process, waiting to lead

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with serving(app, [every_second("tick")]) as healthz:
            await until(lambda: asyncio.to_thread(tick_rows, app))  # it led and ran the job once
            await until(lambda: asyncio.to_thread(other.acquire))  # then it let go of the lead
            unwell = await until(sick(healthz))  # and stays unwell while it does not lead
            ticks = len(tick_rows(app))
            await asyncio.to_thread(other.release)
            well = await until(leading(healthz))  # it leads again: well, and its jobs run
            await until(lambda: asyncio.to_thread(lambda: len(tick_rows(app)) > ticks))
        return unwell, well

    with caplog.at_level(logging.INFO):
        unwell, well = asyncio.run(scenario())
    assert unwell["status"] == "sick" and unwell["leader"] is False
    assert unwell["problems"] == ["the scheduler thread died (DatabaseError: not authorized)"]
    assert well["status"] == "ok" and well["problems"] == []
    said = [r for r in caplog.records if r.name.startswith("nowbot") and "died" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR"
    assert "giving up leadership, trying to lead again in 2 s" in said[0].getMessage()
    assert "\n" not in ConsoleFormatter().format(said[0])  # one console line
    assert "Traceback" not in capfd.readouterr().err  # the dying thread printed nothing
    detail = [r for r in caplog.records if r.exc_info and r.levelno < logging.WARNING]
    assert [r.name for r in detail] == ["apscheduler.scheduler"]  # for the log file only


def test_a_job_that_hangs_past_its_interval_makes_the_leader_give_up(
    health_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "OVERDUE_MARGIN", timedelta(seconds=1))  # not 30 s
    app = health_app
    other = LeaderLock(app.engine)

    async def scenario() -> dict[str, Any]:
        async with serving(app, [STUCK]) as healthz:
            try:
                await until(leading(healthz))
                unwell = await until(sick(healthz))  # its run, due a second after start, runs on
                await until(lambda: asyncio.to_thread(other.acquire))  # the lock is free
            finally:
                RELEASE.set()
        return unwell

    unwell = asyncio.run(scenario())
    other.release()
    assert len(unwell["problems"]) == 1
    assert unwell["problems"][0].startswith("job stuck is overdue: its run due at ")


def test_a_sick_leader_exits_when_told_to(health_app: App) -> None:
    app = App(settings=health_app.settings.model_copy(update={"exit_when_sick": True}),
              engine=health_app.engine, sessions=health_app.sessions)
    refuse_next_job_store_write(app)

    async def scenario() -> None:
        async with asyncio.timeout(60):
            await serve(app, StubGenerator(), stop=asyncio.Event(), publishers={}, adapters=[],
                        specs=[every_second("tick")], seed=False, leader_poll_s=0.2)

    with pytest.raises(ServiceSick, match="scheduler thread died"):
        asyncio.run(scenario())
    assert LeaderLock(app.engine).acquire()


@pytest.mark.parametrize(("signals", "status"), [(1, 0), (2, 1)])
def test_sigterm_stops_the_service_while_a_job_hangs(
    sqlite_app: App, tmp_path: Path, signals: int, status: int
) -> None:
    create_ticks(sqlite_app)
    service = start_harness(sqlite_app, tmp_path / "service", "hang", stderr=subprocess.PIPE)
    try:
        wait_for(lambda: tick_rows(sqlite_app))  # its job runs, and never returns
        service.send_signal(signal.SIGTERM)
        if signals == 2:  # once the first one is taken, while the service waits for its job
            assert service.stderr is not None
            next(line for line in service.stderr if b"shutting down" in line)
            service.send_signal(signal.SIGTERM)
        # In order within seconds (0), or at once on a second signal (1); it used to wait forever.
        assert service.wait(30) == status
    finally:
        end(service)


def test_a_database_that_takes_no_writes_makes_the_leader_give_up_not_exit(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("read-only transactions by default are a PostgreSQL setting")
    create_ticks(app)
    url = app.engine.url
    read_only = make_engine(url.update_query_dict(
        {"options": f"{url.query['options']} -cdefault_transaction_read_only=on"},
    ).render_as_string(hide_password=False))
    service_app = App(settings=app.settings.model_copy(update={"dashboard_port": free_port()}),
                      engine=read_only, sessions=session_factory(read_only))
    other = LeaderLock(app.engine)

    async def scenario() -> dict[str, Any]:
        async with serving(service_app, [every_second("tick")]) as healthz:
            unwell = await until(sick(healthz))  # it could not start its scheduler ...
            await until(lambda: asyncio.to_thread(other.acquire))  # ... and let go of the lead
        return unwell

    try:
        unwell = asyncio.run(scenario())  # and it did not exit
    finally:
        other.release()
        read_only.dispose()
    [problem] = unwell["problems"]
    assert problem.startswith("cannot start the scheduler: ReadOnlySqlTransaction: cannot execute")
