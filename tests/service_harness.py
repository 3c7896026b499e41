"""Helpers for service tests: a stand-in generator and a `nowbot run`-like process.

    python tests/service_harness.py DATABASE_URL DATA_DIR tick|hang

runs the real service (`bot.service.serve`: leader lock, scheduler, dashboard, signals as
`nowbot run` handles them) with one job every second: `tick` writes a row (pid, time) to the
`ticks` table each run; `hang` writes one and then never returns. SIGTERM stops it.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger
from PIL import Image
from sqlalchemy import text

from bot import jobs
from bot.app import App, open_app
from bot.config import Settings
from bot.generation import GeneratedText
from bot.scheduler import JobSpec
from models.errors import NoServingModel
from models.registry import Registry


class StubGenerator:
    """Numbered texts from a registered text version; orange PNG grids. Not what these tests test."""

    def __init__(self) -> None:
        self.count = 0

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> GeneratedText:
        registry = Registry(app.sessions, app.artifacts_dir)
        version = registry.serving("text", persona)
        if version is None:
            version = registry.save_version("text", persona, lambda folder: None, {"val_loss": 1.0})
            registry.promote_if_better(version.id, "val_loss")
        self.count += 1
        return GeneratedText(f"Generated post number {self.count} from the papers track",
                             -1.0, version.id)

    def render_image_grid(self, app: App, image_set: str, count: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8 * count, 8), "orange").save(buffer, format="PNG")
        return buffer.getvalue()

    def progress_gif(self, app: App, image_set: str) -> bytes:
        raise NoServingModel(f"no training progress for '{image_set}' yet")


def tick() -> None:
    """The harness job: one row per run."""
    with jobs.current().app.engine.begin() as connection:
        connection.execute(text("insert into ticks (pid, at) values (:pid, :at)"),
                           {"pid": os.getpid(), "at": time.time()})


def hang() -> None:
    """The harness job that hangs: one row, then it never returns."""
    tick()
    threading.Event().wait()


def create_ticks(app: App) -> None:
    with app.engine.begin() as connection:
        connection.execute(text("create table if not exists ticks (pid integer, at float)"))


def tick_rows(app: App) -> list[tuple[int, float]]:
    with app.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("select pid, at from ticks order by at"))]


def every_second(job: str) -> JobSpec:
    return JobSpec(job, f"service_harness:{job}", IntervalTrigger(seconds=1, timezone=UTC), job,
                   first_run_now=True)


def start_harness(app: App, data_dir: Path, job: str = "tick",
                  stderr: int | None = None) -> subprocess.Popen[bytes]:
    """This file as a service process on `app`'s database, running `job` every second; its
    console lines go to `stderr`."""
    here = Path(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parents[1]), str(here.parent)])}
    return subprocess.Popen([sys.executable, str(here), app.settings.resolved_database_url,
                             str(data_dir), job], env=env, stderr=stderr)


def end(process: subprocess.Popen[bytes]) -> None:
    """Kill `process` if it still runs."""
    if process.poll() is None:
        process.kill()
        process.wait()


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    from bot.logs import setup_logging
    from bot.service import run_until_signalled, serve

    url, data_dir, job = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    opened = open_app(Settings(database_url=url, data_dir=data_dir, dashboard_port=0))
    setup_logging(settings=opened.settings)
    create_ticks(opened)
    run_until_signalled(lambda stop: serve(
        opened, StubGenerator(), stop=stop, publishers={}, adapters=[], specs=[every_second(job)],
        seed=False, leader_poll_s=0.2))
