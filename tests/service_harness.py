"""Helpers for service tests: a stand-in generator and a `nowbot run`-like process.

    python tests/service_harness.py DATABASE_URL DATA_DIR

runs the real service (`bot.service.serve`: leader lock, scheduler, dashboard) with one job,
`tick`, every second; each run writes a row (pid, time) to the `ticks` table. SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
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


def create_ticks(app: App) -> None:
    with app.engine.begin() as connection:
        connection.execute(text("create table if not exists ticks (pid integer, at float)"))


def tick_rows(app: App) -> list[tuple[int, float]]:
    with app.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("select pid, at from ticks order by at"))]


TICK = JobSpec("tick", "service_harness:tick", IntervalTrigger(seconds=1, timezone=UTC), "tick",
               first_run_now=True)


async def _main(app: App) -> None:
    from bot.service import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await serve(app, StubGenerator(), stop=stop, publishers={}, adapters=[], specs=[TICK],
                seed=False, leader_poll_s=0.2)


if __name__ == "__main__":
    url, data_dir = sys.argv[1], Path(sys.argv[2])
    opened = open_app(Settings(database_url=url, data_dir=data_dir, dashboard_port=0))
    create_ticks(opened)
    asyncio.run(_main(opened))
