"""Chaos benchmark: is every approved post published exactly once while the service is killed?

The real service (`nowbot run`, the Typer command `python -m bot.cli run` runs) publishes
`--posts` approved posts to the fake X API of tests/fake_x.py while:

- it is killed with SIGKILL at a uniformly random moment 0.5-4 s after each start, `--kills`
  times, then one last run is left to finish (until the outbox is empty or `--seconds` are spent);
- X sometimes creates a post but answers too late (`--late-share` of the creates answer after
  `--late-delay` s, past the publisher's `--x-timeout`), and every create takes up to
  `--x-latency` s, so kills land mid-request too;
- on PostgreSQL, every connection of the service goes through a proxy of ours (benchmarks/
  chaos_proxy.py) that resets all of them at random moments (every `--cut-min`..`--cut-max` s).

PostgreSQL is `postgresql+psycopg://postgres@127.0.0.1:5432/test` (a fresh schema, dropped at
the end) when it answers, else SQLite in the temporary folder (no cuts then). Only 127.0.0.1 is
ever contacted.

Reported: posts lost (not published at the end and never on X), posts published twice (the same
text more than once on X, which this fake lets through, unlike the stock one), kills, recovery
time after each kill (from the restart to the next post published, or to an empty outbox), DB
cuts, wall time, and whether the target (0 lost, 0 twice) was met, with the states, ids and log
lines of any post that went wrong. Each run's output is kept in the printed `logs` folder.

How a run starts (`--start`): `fork` (default) has a helper process import nowbot once and fork
a fresh service for each run, so that kills land in the service's life rather than in the ~3 s
of Python imports (nothing is stored before `bot.cli` runs); `exec` starts a new interpreter
each time. Either way the child runs the real `nowbot run` with two changes made at startup
by the runner below, not in bot/: `XPublisher` talks to the fake (`fake_x.attach`, timeout
`--x-timeout`), and training jobs are skipped (a SIGKILLed service would orphan its training
children, and training is not what this measures). Demo seeding is done once beforehand.

    .venv/bin/python -m benchmarks.chaos [--kills 100] [--posts 60] [--seconds 420]

`--faults` runs platform and storage faults instead (hanging, refusing, rate-limited platforms, a
full disk, a read-only database), each scenario against a healthy baseline in the same run: see
benchmarks/chaos_faults.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, func, select, text

from benchmarks.chaos_proxy import CutProxy
from benchmarks.text_common import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_bluesky import FakeBluesky  # noqa: E402
from fake_mastodon import FakeMastodon  # noqa: E402
from fake_x import FakeX, _Tweet  # noqa: E402

from bot import outbox  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.demo import seed_demo  # noqa: E402
from storage.outbox import Delivery, PostStatus  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CREATE = "POST /2/tweets"
OUTSTANDING = (PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.UNKNOWN, PostStatus.DRAFT)
POLL_S = 0.1
READY_MARK = "nowbot running on"

RUNNER = r'''
"""Runs `nowbot run` with XPublisher on the fake X and training skipped (mode `exec`), or forks
one such service per `spawn {"log": LOG, "env": {...}}` line read on stdin (mode `zygote`); a
forked service also writes `mark PID TIME TEXT` lines to the helper's stdout (its scheduler
thread's death, written even when the disk is full)."""
import json, logging, os, select, signal, sys, time, types
from datetime import timedelta
from apscheduler.schedulers.blocking import BlockingScheduler
from fake_x import attach
import bot.jobs
import bot.platforms.x.publisher as xp
from bot.cli import app

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk fails writes (EFBIG), not the process
MARKS = None

def mark(text):
    if MARKS is not None:
        os.write(MARKS, f"mark {os.getpid()} {time.time():.3f} {text}\n".encode())

_main_loop = BlockingScheduler._main_loop

def _marked_loop(self):
    try:
        _main_loop(self)
    except BaseException as error:
        mark(f"scheduler-died {type(error).__name__}")
        raise

BlockingScheduler._main_loop = _marked_loop

BASE_URL, TIMEOUT = os.environ.get("CHAOS_X_URL", ""), float(os.environ["CHAOS_X_TIMEOUT"])
_init = xp.XPublisher.__init__

def _on_fake(self, settings, **options):
    options.setdefault("timeout", TIMEOUT)
    _init(self, settings, **options)
    attach(self.client, types.SimpleNamespace(base_url=BASE_URL))

def _no_training(runtime, args, log_name, minutes):
    logging.getLogger("chaos").info("training skipped by the chaos benchmark: %s", " ".join(args))
    return False

xp.XPublisher.__init__ = _on_fake
bot.jobs.run_training = _no_training

def _with_timeout(cls):
    init = cls.__init__

    def patched(self, settings, **options):
        options.setdefault("timeout", TIMEOUT)
        init(self, settings, **options)

    cls.__init__ = patched

import bot.platforms.bluesky.publisher as bp
import bot.platforms.mastodon.publisher as mp
_with_timeout(mp.MastodonPublisher)
_with_timeout(bp.BlueskyPublisher)
if os.environ.get("CHAOS_KEY_LIFETIME"):  # the faults mode's compressed time
    mp.KEY_LIFETIME = timedelta(seconds=float(os.environ["CHAOS_KEY_LIFETIME"]))
    mp.MastodonPublisher.resend_safe_for = mp.KEY_LIFETIME

def run_service():
    try:
        app(prog_name="nowbot", args=["run"])
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0

if sys.argv[1] == "exec":
    sys.exit(run_service())

children = set()

def spawn(log_path, env):
    global MARKS
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        children.add(pid)
        return pid
    code = 70
    try:
        os.environ.update(env)
        MARKS = os.dup(1)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.stdout.reconfigure(line_buffering=True)
        code = run_service()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

import threading
if threading.active_count() > 1:
    print(f"warning: {threading.active_count()} threads before forking", file=sys.stderr)
print("ready", flush=True)
while True:
    readable, _, _ = select.select([sys.stdin], [], [], 0.05)
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        children.discard(pid)
        print(f"exit {pid} {os.waitstatus_to_exitcode(status)}", flush=True)
    if readable:
        line = sys.stdin.readline()
        if not line:
            break
        order = json.loads(line.split(maxsplit=1)[1])
        print(f"pid {spawn(order['log'], order['env'])}", flush=True)
for pid in children:
    os.kill(pid, 9)
'''


# -- X: slow, sometimes late, duplicates let through ---------------------------------------------

class _Late:
    """A share of successful creates answered after `late_delay` s (made, answered too late), the
    rest after up to `latency` s."""

    lock: Any

    def _be_late(self, rng: random.Random, latency: float, late_share: float,
                 late_delay: float) -> None:
        self.rng, self.latency, self.late_share = rng, latency, late_share
        self.late_delay, self.late_answers = late_delay, 0

    def _delay(self, ok: bool) -> float | None:
        if not ok:
            return None
        with self.lock:
            if self.rng.random() < self.late_share:
                self.late_answers += 1
                return self.late_delay
            return self.rng.uniform(0.0, self.latency)


class ChaosX(_Late, FakeX):
    """The fake X with real-time post times, a random latency on every create, a random share
    of creates answered after `late_delay` (the post exists; the answer comes too late), and
    duplicates created rather than refused, so that a post sent twice shows in `posted`."""

    def __init__(self, rng: random.Random, latency: float, late_share: float, late_delay: float
                 ) -> None:
        self._be_late(rng, latency, late_share, late_delay)
        self.duplicates_created = 0
        self.connection_errors: Counter[str] = Counter()
        super().__init__()
        self._server.handle_error = self._connection_error  # type: ignore[method-assign]

    def _connection_error(self, request: Any, client_address: Any) -> None:
        """Count what socketserver would print: mostly a killed client resetting its request."""
        self.connection_errors[type(sys.exc_info()[1]).__name__] += 1

    def _new_tweet(self, text: str, author_id: str, media_ids: list[str] | None = None) -> _Tweet:
        # X dates posts with the real clock; reconciliation compares them with attempt times.
        tweet = _Tweet(next(self._ids), text, author_id, datetime.now(UTC), media_ids or [])
        self.tweets.append(tweet)
        return tweet

    def _create(self, headers: dict[str, str], body: bytes, author_id: str) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        text_ = request.get("text", "")
        if any(t.author_id == author_id and t.text == text_ for t in self.posted):
            self.duplicates_created += 1
            tweet = self._new_tweet(text_, author_id)
            self.posted.append(tweet)
            return {"data": {"id": str(tweet.id), "text": tweet.text,
                             "edit_history_tweet_ids": [str(tweet.id)]}}
        return super()._create(headers, body, author_id)

    def _answer(self, method, split, params, headers, body,  # type: ignore[no-untyped-def]
                route, match):
        status, extra, payload, delay = super()._answer(method, split, params, headers, body,
                                                        route, match)
        late = self._delay(route == CREATE and status == 201)
        return status, extra, payload, delay if late is None else late


class ChaosMastodon(_Late, FakeMastodon):
    def __init__(self, rng: random.Random, latency: float, late_share: float, late_delay: float,
                 **options: Any) -> None:
        self._be_late(rng, latency, late_share, late_delay)
        super().__init__(processing_polls=1, **options)

    def _answer(self, route, match, headers, fields):  # type: ignore[no-untyped-def]
        status, extra, payload, delay = super()._answer(route, match, headers, fields)
        late = self._delay(route == "POST /api/v1/statuses" and status == 200)
        return status, extra, payload, delay if late is None else late


class ChaosBluesky(_Late, FakeBluesky):
    def __init__(self, rng: random.Random, latency: float, late_share: float, late_delay: float
                 ) -> None:
        self._be_late(rng, latency, late_share, late_delay)
        super().__init__()

    def _answer(self, name, headers, params, body):  # type: ignore[no-untyped-def]
        status, extra, payload, delay = super()._answer(name, headers, params, body)
        late = self._delay(name == "com.atproto.repo.createRecord" and status == 200)
        return status, extra, payload, delay if late is None else late


# -- the database ----------------------------------------------------------------------------

@dataclass
class Database:
    """Where the service's data lives: the URL the service uses, ours, and the proxy between."""

    kind: str
    service_url: str
    direct_url: str
    proxy: CutProxy | None = None


def _postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                        connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001  (not installed, not running, no such database: use SQLite)
        return False


@contextmanager
def database(workdir: Path, use_postgres: bool) -> Iterator[Database]:
    """A fresh PostgreSQL schema behind a cut proxy, or a SQLite file; removed afterwards."""
    if not (use_postgres and _postgres_answers()):
        url = f"sqlite:///{workdir / 'var' / 'nowbot.db'}"
        yield Database("sqlite", url, url)
        return
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    proxy = CutProxy(("127.0.0.1", 5432))
    options = f"options=-csearch_path%3D{schema}"
    try:
        yield Database(
            "postgresql", f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?{options}",
            f"{PG_URL}?{options}", proxy,
        )
    finally:
        proxy.close()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- starting and killing the service --------------------------------------------------------

class Launcher(Protocol):
    def start(self, log: Path, env: dict[str, str] | None = None) -> int: ...
    def exit_code(self, pid: int) -> int | None: ...
    def signal(self, pid: int, signum: int) -> None: ...
    def wait(self, pid: int, timeout: float) -> int | None: ...
    def close(self) -> None: ...


class ExecLauncher:
    """A new `python -c RUNNER exec` interpreter per run."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, log: Path, env: dict[str, str] | None = None) -> int:
        with open(log, "ab") as output:
            child = subprocess.Popen([sys.executable, "-c", RUNNER, "exec"],
                                     env={**self.env, **(env or {})},
                                     cwd=self.cwd, stdout=output, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.children[child.pid] = child
        return child.pid

    def exit_code(self, pid: int) -> int | None:
        return self.children[pid].poll()

    def signal(self, pid: int, signum: int) -> None:
        if self.children[pid].poll() is None:
            self.children[pid].send_signal(signum)

    def wait(self, pid: int, timeout: float) -> int | None:
        with suppress(subprocess.TimeoutExpired):
            return self.children[pid].wait(timeout)
        return None

    def close(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.kill()
                child.wait()


class ForkLauncher:
    """A helper that imported nowbot once and forks a service per run
    (`python -c RUNNER zygote`)."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self._log = open(log, "ab")  # noqa: SIM115  (open for the helper's life)
        self.helper = subprocess.Popen([sys.executable, "-c", RUNNER, "zygote"], env=env, cwd=cwd,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=self._log, text=True, bufsize=1)
        self.exits: dict[int, int] = {}
        self.live: set[int] = set()
        self.marks: list[tuple[int, float, str]] = []  # (pid, time.time(), what) from services
        self._pids: queue.Queue[int | str] = queue.Queue()
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()
        first = self._pids.get(timeout=120)
        if first != "ready":
            raise RuntimeError(f"the fork helper did not start (see {log})")

    def _read(self) -> None:
        assert self.helper.stdout is not None
        for line in self.helper.stdout:
            kind, *rest = line.split()
            if kind == "ready":
                self._pids.put("ready")
            elif kind == "pid":
                self._pids.put(int(rest[0]))
            elif kind == "mark":
                self.marks.append((int(rest[0]), float(rest[1]), " ".join(rest[2:])))
            elif kind == "exit":
                with self._changed:
                    self.exits[int(rest[0])] = int(rest[1])
                    self.live.discard(int(rest[0]))
                    self._changed.notify_all()
        self._pids.put("gone")

    def start(self, log: Path, env: dict[str, str] | None = None) -> int:
        assert self.helper.stdin is not None
        self.helper.stdin.write(f"spawn {json.dumps({'log': str(log), 'env': env or {}})}\n")
        self.helper.stdin.flush()
        pid = self._pids.get(timeout=30)
        if not isinstance(pid, int):
            raise RuntimeError("the fork helper died")
        with self._changed:
            self.live.add(pid)
        return pid

    def exit_code(self, pid: int) -> int | None:
        return self.exits.get(pid)

    def signal(self, pid: int, signum: int) -> None:
        if pid in self.live:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

    def wait(self, pid: int, timeout: float) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self.exits, timeout)
        return self.exits.get(pid)

    def close(self) -> None:
        for pid in list(self.live):
            self.signal(pid, signal.SIGKILL)
            self.wait(pid, 10)
        if self.helper.stdin:
            with suppress(OSError):
                self.helper.stdin.close()
        try:
            self.helper.wait(10)
        except subprocess.TimeoutExpired:
            self.helper.kill()
            self.helper.wait()
        self._log.close()


# -- the run ---------------------------------------------------------------------------------

@dataclass
class Run:
    """One start of the service."""

    number: int
    pid: int
    log: Path
    started: float
    published_at_start: int
    counts_at_start: dict[str, int]
    publishing_at_start: set[int]  # left by an earlier kill
    ready: float | None = None
    led: float | None = None
    killed: float | None = None
    mid_publish: int = 0  # posts left `publishing` by the kill
    exit_code: int | None = None
    exited_by_itself: bool = False
    _read: int = 0


@dataclass
class Chaos:
    """Drives the runs and keeps what was seen."""

    args: argparse.Namespace
    rng: random.Random
    engine: Engine
    launcher: Launcher
    logs: Path
    proxy: CutProxy | None
    t0: float = field(default_factory=time.monotonic)
    runs: list[Run] = field(default_factory=list)
    # (t, published, outstanding)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    poll_errors: int = 0
    cut_times: list[tuple[float, int]] = field(default_factory=list)
    _stop_cuts: threading.Event = field(default_factory=threading.Event)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def sample(self) -> dict[str, int]:
        """Post counts by status (read directly, not through the proxy); the timeline keeps
        changes."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(Delivery.status, func.count())
                                          .group_by(Delivery.status))
                counts = {status: int(n) for status, n in rows}
        except Exception:  # noqa: BLE001  (SQLite busy: try on the next tick)
            self.poll_errors += 1
            return self.counts
        self.counts = counts
        point = (counts.get(PostStatus.PUBLISHED, 0), sum(counts.get(s, 0) for s in OUTSTANDING))
        if not self.timeline or self.timeline[-1][1:] != point:
            self.timeline.append((self.now(), *point))
        return counts

    def outstanding(self) -> int:
        return sum(self.counts.get(s, 0) for s in OUTSTANDING)

    def tail(self, run: Run) -> None:
        """Note when the run's log first says it is running and leading."""
        try:
            with open(run.log, "rb") as log:
                log.seek(run._read)
                chunk = log.read()
        except OSError:
            return
        cut = chunk.rfind(b"\n") + 1
        run._read += cut
        for line in chunk[:cut].decode(errors="replace").splitlines():
            if run.ready is None and READY_MARK in line:
                run.ready = self.now()
            if run.led is None and "leading: starting the scheduler" in line:
                run.led = self.now()

    def start(self, env: dict[str, str] | None = None) -> Run:
        counts = self.sample()
        number = len(self.runs) + 1
        log = self.logs / f"run-{number:03d}.log"
        stranded = self.publishing()
        started = self.now()
        pid = self.launcher.start(log, env)
        run = Run(number, pid, log, started, counts.get(PostStatus.PUBLISHED, 0), dict(counts),
                  stranded)
        self.runs.append(run)
        return run

    def watch(self, run: Run, until: float, *, until_done: bool = False,
              until_ready: bool = False) -> None:
        """Poll until `until` (run time), the run exits, or (if asked) the outbox empties or the
        run says it is running."""
        while self.now() < until:
            self.sample()
            self.tail(run)
            code = self.launcher.exit_code(run.pid)
            if code is not None:
                run.exit_code, run.exited_by_itself = code, True
                return
            if until_done and self.outstanding() == 0 and run.led is not None and (
                    self.now() >= run.led + 3):  # it led, and its first outbox run found nothing
                return
            if until_ready and run.ready is not None:
                return
            time.sleep(POLL_S)

    def publishing(self) -> set[int]:
        """Ids of the deliveries now `publishing` (claimed, outcome not recorded)."""
        with self.engine.connect() as connection:
            return set(connection.scalars(select(Delivery.id)
                                          .where(Delivery.status == PostStatus.PUBLISHING)))

    def kill(self, run: Run) -> None:
        self.launcher.signal(run.pid, signal.SIGKILL)
        run.killed = self.now()
        run.exit_code = self.launcher.wait(run.pid, 15)
        self.tail(run)
        self.sample()
        run.mid_publish = len(self.publishing() - run.publishing_at_start)

    def _cutter(self) -> None:
        assert self.proxy is not None
        while not self._stop_cuts.wait(self.rng.uniform(self.args.cut_min, self.args.cut_max)):
            self.cut_times.append((self.now(), self.proxy.cut()))

    def run(self) -> dict[str, Any]:
        args = self.args
        deadline = args.seconds
        kill_phase_end = max(0.0, args.seconds - args.final_reserve)
        cutter = None
        if self.proxy is not None:
            cutter = threading.Thread(target=self._cutter, name="db-cutter", daemon=True)
            cutter.start()
        kills = 0
        while kills < args.kills and self.now() < kill_phase_end:
            run = self.start()
            base = run.started
            if args.kill_from == "ready":
                self.watch(run, run.started + 60, until_ready=True)
                base = run.ready if run.ready is not None else self.now()
            if not run.exited_by_itself:
                self.watch(run, base + self.rng.uniform(args.kill_min, args.kill_max))
            if run.exited_by_itself:
                time.sleep(0.5)  # it stopped by itself: noted, and started again
                continue
            self.kill(run)
            kills += 1
        final = self.start()
        self.watch(final, deadline, until_done=True)
        done_at = self.now()
        if not final.exited_by_itself:
            self.launcher.signal(final.pid, signal.SIGTERM)
            final.exit_code = self.launcher.wait(final.pid, 30)
            if final.exit_code is None:
                self.kill(final)
        self.tail(final)
        self._stop_cuts.set()
        if cutter is not None:
            cutter.join(timeout=5)
        self.sample()
        return {"kills": kills, "finished_at_s": round(done_at, 2), "final": final}


# -- figures ---------------------------------------------------------------------------------

def stats(values: list[float]) -> dict[str, float | int | None]:
    """Count, median, p95, p99 and max of `values` (seconds, rounded; nearest-rank percentiles)."""
    if not values:
        return {"count": 0, "median": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(share: float) -> float:
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)

    return {"count": len(ordered), "median": round(statistics.median(ordered), 3),
            "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 3)}


def recoveries(chaos: Chaos) -> dict[str, Any]:
    """Per restart after a kill: seconds to the next publish, or to an empty outbox."""
    with_work: list[float] = []
    idle = never = 0
    approved_waiting, same_run = [], 0
    for before, run in zip(chaos.runs, chaos.runs[1:]):
        if before.killed is None:
            continue
        if not sum(run.counts_at_start.get(s, 0) for s in OUTSTANDING):
            idle += 1  # nothing was left to publish
            continue
        found = next((t for t, published, left in chaos.timeline
                      if t >= run.started and (published > run.published_at_start or left == 0)),
                     None)
        if found is None:
            never += 1
            continue
        seconds = max(0.0, found - run.started)
        with_work.append(seconds)
        if run.counts_at_start.get(PostStatus.APPROVED, 0):
            approved_waiting.append(seconds)
        if run.killed is None or found <= run.killed:
            same_run += 1
    return {
        "definition": "restart after a kill -> next post published, or outbox empty",
        **stats(with_work),
        "with_approved_posts_waiting": stats(approved_waiting),
        "recovered_before_the_next_kill": same_run,
        "restarts_with_empty_outbox": idle,
        "never_recovered": never,
    }


LOG_PATTERNS = {
    "left_mid_publish_on_start": r"post\(s\) were left mid-publish",
    "outcome_unknown": r"outcome unknown, will reconcile",
    "found_on_x_by_reconcile": r"found on x as",
    "not_sent_retry": r"not sent: ",
    "refused": r"refused: ",
    "stays_unknown_check_account": r"stays unknown: check the account",
    "cannot_reconcile_now": r"cannot reconcile",
    "database_unreachable": r"database unreachable",
    "leadership_lost": r"leadership lost|lost the database connection holding leadership",
    "leading": r"leading: starting the scheduler",
    "job_failed": r"job \S+ failed",
    "error_lines": r" ERROR ",
    "tracebacks": r"^Traceback",
}


def scan_logs(logs: Path, post_ids: list[int]
              ) -> tuple[dict[str, int], list[str], dict[int, list[str]]]:
    """Pattern counts over all run logs, distinct error lines, and each listed post's log lines."""
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    mentions: dict[int, list[str]] = {post_id: [] for post_id in post_ids}
    wanted = {post_id: re.compile(rf"\bpost {post_id}\b") for post_id in post_ids}
    compiled = {name: re.compile(pattern, re.MULTILINE) for name, pattern in LOG_PATTERNS.items()}
    for path in sorted(logs.glob("run-*.log")):
        content = path.read_text(errors="replace")
        for name, pattern in compiled.items():
            counts[name] += len(pattern.findall(content))
        for line in content.splitlines():
            if " ERROR " in line or line.startswith(("Traceback", "sqlalchemy.", "psycopg.")) or (
                    re.match(r"^\w+(\.\w+)*(Error|Exception): ", line)):
                errors[re.sub(r"^\d{4}-\d\d-\d\d \S+ ", "", line)[:200]] += 1
            for post_id, pattern in wanted.items():
                if pattern.search(line) and len(mentions[post_id]) < 12:
                    mentions[post_id].append(f"{path.name}: {line[:300]}")
    return dict(counts), [f"{n}x {line}" for line, n in errors.most_common(15)], mentions


def on_platform(fakes: dict[str, Any]) -> dict[str, tuple[Counter[str], set[str]]]:
    """Per platform: how many times each text is there, and the ids the platform gave."""
    seen = {}
    for platform, fake in fakes.items():
        with fake.lock:
            if platform == "x":
                seen[platform] = (Counter(t.text for t in fake.posted),
                                  {str(t.id) for t in fake.posted})
            elif platform == "mastodon":
                seen[platform] = (Counter(s["text_sent"] for s in fake.statuses),
                                  {s["url"] for s in fake.statuses})
            else:
                seen[platform] = (Counter(fake.posted_texts()),
                                  {fake._uri(k) for k in fake.records})
    return seen


def outcome(engine: Engine, fakes: dict[str, Any]) -> dict[str, Any]:
    """Each delivery's end state against what its platform holds."""
    x = fakes.get("x")
    there = on_platform(fakes)
    creates: Counter[str] = Counter()
    if x is not None:
        with x.lock:
            creates = Counter(json.loads(r.body or b"{}").get("text", "") for r in x.calls(CREATE))
    with engine.connect() as connection:
        rows = connection.execute(select(
            Delivery.id, Delivery.post_id, Delivery.platform, Delivery.status, Delivery.text,
            Delivery.attempts, Delivery.error, Delivery.external_id).order_by(Delivery.id)).all()
    rows = [row for row in rows if row.platform in there]
    times = {row.id: there[row.platform][0][row.text] for row in rows}
    lost = [row for row in rows if row.status != PostStatus.PUBLISHED and not times[row.id]]
    twice = [row for row in rows if times[row.id] > 1]
    unresolved = [row for row in rows if row.status != PostStatus.PUBLISHED and times[row.id]]
    phantom = [row for row in rows if row.status == PostStatus.PUBLISHED and not times[row.id]]
    wrong_id = [row for row in rows if row.status == PostStatus.PUBLISHED
                and row.external_id not in there[row.platform][1]]

    def describe(row: Any) -> dict[str, Any]:
        return {"id": row.post_id, "delivery": row.id, "platform": row.platform,
                "status": row.status,
                "attempts": row.attempts, "error": row.error, "external_id": row.external_id,
                "times_there": times[row.id], "text": row.text}

    by_platform = {platform: dict(Counter(str(r.status) for r in rows if r.platform == platform))
                   for platform in there}
    return {
        "lost": [describe(r) for r in lost],
        "twice": [describe(r) for r in twice],
        "on_platform_but_not_published": [describe(r) for r in unresolved],
        "published_but_not_on_platform": [describe(r) for r in phantom],
        "published_with_unknown_id": [describe(r) for r in wrong_id],
        "states": dict(Counter(str(r.status) for r in rows)),
        "states_by_platform": by_platform,
        "x": {"creates_received": sum(creates.values()), "posts_created": len(x.posted),
              "answered_late": x.late_answers, "duplicates_created": x.duplicates_created,
              "resends": sum(n - 1 for n in creates.values() if n > 1),
              "connection_errors": dict(x.connection_errors)} if x is not None else None,
        "late_answers": {platform: fake.late_answers for platform, fake in fakes.items()},
    }


# -- setup -----------------------------------------------------------------------------------

def queue_posts(settings: Settings, count: int, tag: str, platforms: list[str],
                due_in: float | None = None, every: float = 0.0) -> list[int]:
    """Migrate the schema, seed the demo (as a first start would) and queue `count` approved posts,
    each for every one of `platforms`; returns their ids. With `due_in`, post n (from 0) becomes
    due `due_in + n * every` seconds from now, else at once."""
    app = open_app(settings)
    topics = ["keynote", "papers", "posters", "courses", "real-time live", "exhibition",
              "art gallery", "birds of a feather", "panels", "emerging tech"]
    try:
        seed_demo(app)
        with app.sessions.begin() as session:
            posts = [outbox.create_post(
                session, platforms=platforms, review=False, hashtag=None,
                text=f"Chaos post {number:03d} of {count}: {topics[number % len(topics)]} "
                     f"update, run {tag}",
            ) for number in range(1, count + 1)]
            if due_in is not None:
                now = datetime.now(UTC)
                for number, post in enumerate(posts):
                    post.publish_at = now + timedelta(seconds=due_in + number * every)
            return [post.id for post in posts]
    finally:
        app.engine.dispose()


def child_env(db: Database, data_dir: Path, fakes: dict[str, Any], x_timeout: float,
              urls: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment: no NOWBOT_* of ours, the fakes' credentials (and addresses, or
    those in `urls`, by platform), quiet jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOWBOT_")}
    urls = {**{name: fake.base_url for name, fake in fakes.items()}, **(urls or {})}
    if "x" in fakes:
        fake = fakes["x"]
        env.update({"NOWBOT_X_CONSUMER_KEY": fake.consumer_key,
                    "NOWBOT_X_CONSUMER_SECRET": fake.consumer_secret,
                    "NOWBOT_X_ACCESS_TOKEN": fake.access_token,
                    "NOWBOT_X_ACCESS_TOKEN_SECRET": fake.access_token_secret,
                    "CHAOS_X_URL": urls["x"]})
    if "mastodon" in fakes:
        env.update({"NOWBOT_MASTODON_INSTANCE_URL": urls["mastodon"],
                    "NOWBOT_MASTODON_ACCESS_TOKEN": fakes["mastodon"].token})
    if "bluesky" in fakes:
        env.update({"NOWBOT_BLUESKY_HANDLE": fakes["bluesky"].handle,
                    "NOWBOT_BLUESKY_APP_PASSWORD": fakes["bluesky"].password,
                    "NOWBOT_BLUESKY_SERVICE_URL": urls["bluesky"]})
    env.update({
        "NOWBOT_DATABASE_URL": db.service_url,
        "NOWBOT_DATA_DIR": str(data_dir),
        "NOWBOT_REVIEW_MODE": "false",
        "NOWBOT_OUTBOX_INTERVAL_SECONDS": "5",  # the smallest the settings allow
        "NOWBOT_TRAIN_TEXT_EVERY_MINUTES": "525600",
        "NOWBOT_TRAIN_GAN_EVERY_MINUTES": "525600",
        "NOWBOT_CAMPAIGN_CRON": "0 0 1 1 *",
        "NOWBOT_DASHBOARD_PORT": "0",
        "NOWBOT_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "PYTHONUNBUFFERED": "1",
        "CHAOS_X_TIMEOUT": str(x_timeout),
    })
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs before the final run")
    parser.add_argument("--posts", type=int, default=60, help="approved posts in the outbox")
    parser.add_argument("--seconds", type=float, default=420, help="time budget of all runs")
    parser.add_argument("--final-reserve", type=float, default=150,
                        help="seconds kept for the final run (unknown posts settle for 120 s)")
    parser.add_argument("--kill-min", type=float, default=0.5)
    parser.add_argument("--kill-max", type=float, default=4.0)
    parser.add_argument("--kill-from", choices=["start", "ready"], default="start",
                        help="measure the kill delay from the process start or from its "
                        f"'{READY_MARK}' line")
    parser.add_argument("--start", choices=["fork", "exec"], default="fork")
    parser.add_argument("--x-timeout", type=float, default=2.0, help="publisher's HTTP timeout")
    parser.add_argument("--x-latency", type=float, default=1.2, help="most seconds per create")
    parser.add_argument("--late-share", type=float, default=0.15)
    parser.add_argument("--late-delay", type=float, default=4.0)
    parser.add_argument("--cut-min", type=float, default=2.0)
    parser.add_argument("--cut-max", type=float, default=10.0)
    parser.add_argument("--sqlite", action="store_true",
                        help="use SQLite even if PostgreSQL answers")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--platforms", default="x",
                        help="comma-separated platforms every post goes to: x, mastodon, bluesky "
                        "(each a fake with the same latency and late answers)")
    parser.add_argument("--multi-node", action="store_true",
                        help="a scheduler and three workers on PostgreSQL, workers killed "
                             "(benchmarks/chaos_multinode.py)")
    faults = parser.add_argument_group(
        "platform and storage faults (benchmarks/chaos_faults.py: no kills, no DB cuts)")
    faults.add_argument("--faults", action="store_true",
                        help="run the fault scenarios instead of the kills")
    faults.add_argument("--scenarios", default=None,
                        help="comma-separated scenarios to run (implies --faults)")
    faults.add_argument("--interval", type=int, default=5, help="NOWBOT_OUTBOX_INTERVAL_SECONDS")
    faults.add_argument("--deadline", type=int, default=10,
                        help="NOWBOT_PUBLISH_DEADLINE_SECONDS")
    faults.add_argument("--timeout", type=float, default=30.0,
                        help="publishers' HTTP timeout (30: their own default)")
    faults.add_argument("--every", type=float, default=2.5,
                        help="a post for every platform becomes due every this many seconds")
    faults.add_argument("--warmup", type=float, default=10.0, help="healthy seconds first")
    faults.add_argument("--fault-seconds", type=float, default=30.0)
    faults.add_argument("--tail", type=float, default=200.0,
                        help="most seconds after the lift for every delivery to settle")
    faults.add_argument("--latency", type=float, default=0.3, help="most seconds per create")
    faults.add_argument("--key-lifetime", type=float, default=24.0,
                        help="Mastodon key lifetime the service trusts (45 min in production)")
    faults.add_argument("--exit-when-sick", action="store_true",
                        help="NOWBOT_EXIT_WHEN_SICK=true (the supervisor restarts the service)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.faults or args.scenarios:
        from benchmarks.chaos_faults import run_faults

        save("chaos-faults", run_faults(args))
        return
    if args.multi_node:
        from benchmarks.chaos_multinode import postgres_url, run_multi_node

        save("chaos-multinode", run_multi_node(args, postgres_url()))
        return
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="nowbot-chaos-"))
    logs, data_dir = workdir / "logs", workdir / "var"
    logs.mkdir()
    wall = time.monotonic()
    platforms = [name.strip() for name in args.platforms.split(",") if name.strip()]
    kinds = {"x": ChaosX, "mastodon": ChaosMastodon, "bluesky": ChaosBluesky}
    unknown = [name for name in platforms if name not in kinds]
    if unknown or not platforms:
        raise SystemExit(f"--platforms: give some of {', '.join(kinds)} (not {', '.join(unknown)})")
    fakes = {name: kinds[name](random.Random(seed + 1 + i), args.x_latency, args.late_share,
                               args.late_delay) for i, name in enumerate(platforms)}
    launcher: Launcher | None = None
    try:
        with database(workdir, not args.sqlite) as db:
            setup = time.monotonic()
            queue_posts(Settings(data_dir=data_dir, database_url=db.direct_url, review_mode=False,
                                 _env_file=None), args.posts, f"{seed}", platforms)
            engine = create_engine(db.direct_url)
            env = child_env(db, data_dir, fakes, args.x_timeout)
            launcher = (ForkLauncher(env, workdir, logs / "fork-helper.log") if args.start == "fork"
                        else ExecLauncher(env, workdir))
            setup_s = time.monotonic() - setup
            chaos = Chaos(args, rng, engine, launcher, logs, db.proxy)
            try:
                ran = chaos.run()
            finally:
                launcher.close()
                launcher = None
            end = outcome(engine, fakes)
            engine.dispose()
            cuts = ((db.proxy.cuts, db.proxy.connections_cut, db.proxy.accepted) if db.proxy
                    else (0, 0, 0))
    finally:
        if launcher is not None:
            launcher.close()
        for fake in fakes.values():
            fake.stop()
    problem_ids = sorted({p["id"] for key in ("lost", "twice", "on_platform_but_not_published",
                                              "published_but_not_on_platform",
                                              "published_with_unknown_id")
                          for p in end[key]})
    log_counts, error_lines, mentions = scan_logs(logs, problem_ids)
    runs, final = chaos.runs, ran["final"]
    startup = [r.ready - r.started for r in runs if r.ready is not None]
    leading = [r.led - r.started for r in runs if r.led is not None]
    unprompted = [{"run": r.number, "exit_code": r.exit_code, "log": str(r.log)}
                  for r in runs if r.exited_by_itself]
    for key in ("lost", "twice", "on_platform_but_not_published", "published_but_not_on_platform",
                "published_with_unknown_id"):
        for post in end[key]:
            post["log_lines"] = mentions.get(post["id"], [])
    result = {
        "config": {**{k: v for k, v in vars(args).items()}, "seed": seed, "database": db.kind,
                   "outbox_interval_s": 5, "reconcile_settle_s": 120},
        "target_met": not end["lost"] and not end["twice"],
        "posts": args.posts,
        "lost": len(end["lost"]),
        "published_twice": len(end["twice"]),
        "platforms": platforms,
        "deliveries": args.posts * len(platforms),
        "all_published": end["states"].get(PostStatus.PUBLISHED, 0) == args.posts * len(platforms),
        "states_by_platform": end["states_by_platform"],
        "late_answers": end["late_answers"],
        "states": end["states"],
        "kills": ran["kills"],
        "kills_target_met": ran["kills"] >= args.kills,
        "kills_mid_publish": sum(1 for r in runs if r.killed is not None and r.mid_publish),
        "kills_with_posts_outstanding": sum(
            1 for r in runs if r.killed is not None
            and sum(r.counts_at_start.get(s, 0) for s in OUTSTANDING)),
        "kills_before_ready": sum(1 for r in runs if r.killed is not None and r.ready is None),
        "kills_before_leading": sum(1 for r in runs if r.killed is not None and r.led is None),
        "runs_exited_by_themselves": unprompted,
        "recovery_s": recoveries(chaos),
        "startup_s": {"to_running_line": stats(startup), "to_leading": stats(leading)},
        "db_cuts": cuts[0],
        "db_cut_moments": len(chaos.cut_times),
        "db_connections_cut": cuts[1],
        "db_connections_proxied": cuts[2],
        "final_run": {
            "outbox_empty": not chaos.outstanding(),
            "stopped_at_s": ran["finished_at_s"],
            "exit_code_after_sigterm": final.exit_code,
            "exited_by_itself": final.exited_by_itself,
        },
        "x": end["x"],
        "run_time_s": round(chaos.now(), 1),
        "setup_s": round(setup_s, 1),
        "wall_s": round(time.monotonic() - wall, 1),
        "log_counts": log_counts,
        "error_lines": error_lines,
        "problems": {key: end[key] for key in ("lost", "twice", "on_platform_but_not_published",
                                               "published_but_not_on_platform",
                                               "published_with_unknown_id") if end[key]},
        "publish_timeline": [[round(t, 2), p, o] for t, p, o in chaos.timeline][:400],
        "logs": str(logs),
    }
    save("chaos", result)


if __name__ == "__main__":
    main()
