"""Leader election: two `nowbot run` processes on one database never both run jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_harness import create_ticks, tick_rows

from bot.app import App
from bot.leader import LeaderLock

HARNESS = Path(__file__).with_name("service_harness.py")
REPO = HARNESS.parents[1]


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


def _start(app: App, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HARNESS.parent)])}
    return subprocess.Popen(
        [sys.executable, str(HARNESS), app.settings.resolved_database_url, str(data_dir)], env=env,
    )


def _wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _assert_once_per_tick(rows: list[tuple[int, float]]) -> None:
    gaps = [later - earlier for (_, earlier), (_, later) in zip(rows, rows[1:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), f"two runs of one tick: {gaps}"


def test_two_processes_run_each_tick_once_and_fail_over(
    sqlite_app: App, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    app = sqlite_app
    create_ticks(app)
    processes.append(_start(app, tmp_path / "a"))
    _wait_for(lambda: len(tick_rows(app)) >= 1)
    processes.append(_start(app, tmp_path / "b"))
    first, second = processes
    time.sleep(4)
    rows = tick_rows(app)
    assert {pid for pid, _ in rows} == {first.pid}  # the follower ran nothing
    assert len(rows) >= 4
    _assert_once_per_tick(rows)

    first.send_signal(signal.SIGTERM)  # clean shutdown: the follower takes over
    assert first.wait(30) == 0
    _wait_for(lambda: second.pid in {pid for pid, _ in tick_rows(app)}, timeout=30)
    time.sleep(2)
    rows = tick_rows(app)
    _assert_once_per_tick(rows)
    pids = [pid for pid, _ in rows]
    handover = pids.index(second.pid)
    assert set(pids[:handover]) == {first.pid} and set(pids[handover:]) == {second.pid}
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
