"""Chaos on many machines: is every approved post published exactly once while workers die?

A scheduler (the real service with the job queue on, queuing a publishing round every second) and
three `nowbot worker` processes (tests/queue_harness.py) share a fresh PostgreSQL schema and
publish `--posts` approved posts to the chaos Mastodon of benchmarks/chaos.py (every create takes
up to `--x-latency` s, `--late-share` of them answer after `--late-delay` s), while a random
worker is SIGKILLed every `--kill-min`..`--kill-max` s and started again, `--kills` times. Then
the workers are left to finish. Reported as `benchmarks.chaos` does: posts lost, published twice,
kills (and how many landed while a publishing round was running), wall time.

    .venv/bin/python -m benchmarks.chaos --multi-node [--kills 60] [--posts 200]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.chaos import ChaosMastodon, outcome, queue_posts
from benchmarks.discord_latency import stop
from benchmarks.queue_workers import fresh_schema
from bot.app import open_app
from bot.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from queue_harness import start  # noqa: E402

WORKERS = 3
PUBLISHING = ("SELECT count(*) FROM procrastinate_jobs "
              "WHERE task_name = 'nowbot:publish_round' AND status = 'doing'")


def run_multi_node(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The scheduler, three workers, the kills; the outcome on the fake and in the outbox."""
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    wall = time.monotonic()
    fake = ChaosMastodon(random.Random(seed + 1), args.x_latency, args.late_share,
                         args.late_delay)
    with fake, fresh_schema(url) as schema_url, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(NOWBOT_MASTODON_INSTANCE_URL=fake.base_url,
                          NOWBOT_MASTODON_ACCESS_TOKEN=fake.token)
        settings = Settings(database_url=schema_url, data_dir=Path(tmp), job_queue="postgresql",
                            review_mode=False, queue_stall_seconds=3, publish_deadline_seconds=5,
                            _env_file=None)
        post_ids = queue_posts(settings, args.posts, f"{seed}", ["mastodon"])
        app = open_app(settings)
        procs = [start("scheduler", settings, "outbox")]
        workers = [start("worker", settings) for _ in range(WORKERS)]
        kills = mid_round = 0
        try:
            while kills < args.kills and outstanding(app) > 0:
                time.sleep(rng.uniform(args.kill_min, args.kill_max))
                number = rng.randrange(WORKERS)
                with app.engine.connect() as connection:
                    mid_round += bool(connection.execute(text(PUBLISHING)).scalar_one())
                workers[number].send_signal(signal.SIGKILL)
                workers[number].wait()
                workers[number] = start("worker", settings)
                kills += 1
            killing_s = time.monotonic() - wall
            deadline = time.monotonic() + args.final_reserve
            while outstanding(app) > 0 and time.monotonic() < deadline:
                time.sleep(1)
            result = outcome(app.engine, {"mastodon": fake})
            result["outstanding_at_end"] = outstanding(app)  # not 0: the run ran out of time
        finally:
            stop([*workers, *procs])
            app.engine.dispose()
    return {"mode": "multi-node", "seed": seed, "posts": len(post_ids), "workers": WORKERS,
            "kills": kills, "kills_while_a_round_ran": mid_round,
            "killing_seconds": round(killing_s, 1),
            "wall_seconds": round(time.monotonic() - wall, 1), **result,
            "target_met": not result["lost"] and not result["twice"]}


def outstanding(app: Any) -> int:
    """Deliveries not yet published or given up."""
    with app.engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM deliveries WHERE status NOT IN ('published', 'failed', "
            "'rejected')")).scalar_one())


def postgres_url() -> str:
    """The PostgreSQL the multi-node mode needs (a schema of its own in it)."""
    url = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        raise SystemExit("--multi-node needs PostgreSQL on 127.0.0.1")
    return url
