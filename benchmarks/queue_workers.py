"""The scaled generation path for benchmarks: a fresh PostgreSQL schema, `nowbot worker` processes
on its "generate" queue, and where the machine's CPU time went (workers, this chat process, the
rest: PostgreSQL and any load)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from benchmarks.discord_latency import stop

TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """`url` with its search_path on a new schema, dropped afterwards (as the tests do)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def generation_workers(count: int, data_dir: Path, concurrency: int, engine: Engine
                       ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `nowbot worker --queues generate` processes, as an operator starts them (the
    environment carries NOWBOT_DATABASE_URL and NOWBOT_JOB_QUEUE), once all of them take jobs;
    stopped afterwards."""
    registered = "SELECT count(*) FROM procrastinate_workers WHERE id > :before"
    with engine.connect() as connection:
        before = connection.execute(text(
            "SELECT coalesce(max(id), 0) FROM procrastinate_workers")).scalar_one()
    env = {**os.environ, "NOWBOT_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "bot.cli", "worker", "--queues", "generate",
               "--concurrency", str(concurrency)]
    procs = []
    try:
        for number in range(count):
            with open(data_dir / f"worker-{number}.log", "ab") as output:
                procs.append(subprocess.Popen([*command, "--name", f"bench-{number}"], env=env,
                                              stdout=output, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        deadline = time.monotonic() + 120
        while _scalar(engine, registered, before=before) < count:
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
                raise SystemExit(f"generation workers did not start; see {data_dir}/worker-*.log")
            time.sleep(0.5)
        yield procs
    finally:
        if not stop(procs):
            print(f"a worker died early; see {data_dir}/worker-*.log", file=sys.stderr)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy (not idle, not waiting on I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


def _scalar(engine: Engine, query: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(query), params).scalar_one())


def commits(engine: Engine) -> tuple[int, int]:
    """Transactions committed so far in the whole database (other clients' too) and rows written
    in this schema's tables (PostgreSQL's statistics, ~1 s behind)."""
    return (_scalar(engine, "SELECT xact_commit FROM pg_stat_database "
                            "WHERE datname = current_database()"),
            _scalar(engine, "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                            "FROM pg_stat_user_tables WHERE schemaname = current_schema()"))


class CpuMeter:
    """Where CPU time went between `start()` and `split(tweets)`, per tweet in milliseconds, and
    the database transactions committed per tweet."""

    def __init__(self, workers: list[subprocess.Popen[bytes]], engine: Engine) -> None:
        self.pids, self.engine = [proc.pid for proc in workers], engine

    def start(self) -> None:
        self.at, self.commits = self._sample(), commits(self.engine)

    def split(self, tweets: int) -> dict[str, float]:
        now = self._sample()
        time.sleep(1.1)  # the statistics collector's delay
        committed, written = (b - a for a, b in zip(self.commits, commits(self.engine)))
        used = [after - before for before, after in zip(self.at, now)]
        workers, chat, machine = used
        per = 1000 / max(tweets, 1)
        return {"workers_ms": round(workers * per, 2), "chat_process_ms": round(chat * per, 2),
                "rest_ms": round((machine - workers - chat) * per, 2),
                "machine_ms": round(machine * per, 2),
                "pg_commits_per_tweet": round(committed / max(tweets, 1), 2),
                "pg_rows_written_per_tweet": round(written / max(tweets, 1), 2)}

    def _sample(self) -> tuple[float, float, float]:
        return (sum(cpu_seconds(pid) for pid in self.pids), cpu_seconds(os.getpid()),
                machine_busy_seconds())
