"""Platform and storage faults for the chaos benchmark: `python -m benchmarks.chaos --faults`.

Each scenario gets a fresh PostgreSQL database, fresh fakes of X, Mastodon and Bluesky (tests/
fake_*.py), each behind a TCP proxy of ours (benchmarks/chaos_proxy.py), and one `nowbot run`
(forked as in the kill mode) kept up as a supervisor would: started again a second after it exits
by itself. Once it leads, a post for all three platforms becomes due every `--every` s, and:

1. `--warmup` s healthy (and until every platform has published once); the fault for
   `--fault-seconds` s while posts keep coming due; the fault lifted, and the same process must
   catch up: the run waits until every delivery is published or failed, at most `--tail` s (the
   circuit breaker pauses a failing platform for a minute or more, and an unknown outcome not
   found on the platform settles for two minutes). A delivery neither published nor on its
   platform at the end is lost, unless it is still on its way (`waiting`): unknown (being
   reconciled), or approved on a platform the breaker pauses or a rate limit holds back;
2. the fault again, one more post due at once, and SIGTERM an outbox interval later: the seconds
   until the process exits.

Scenarios (`--scenarios`, comma-separated; `--faults` runs `DEFAULT`):
- `baseline`: no fault; the other scenarios' delays are read against it, from the same run.
- `hang-P` (P: x, mastodon or bluesky): P accepts connections and never answers.
- `refuse-P`: P's port is closed (connection refused).
- `mastodon-429`: Mastodon makes the next status but answers after the publish deadline (outcome
  unknown), then answers every create 429 until lifted, for longer than an Idempotency-Key lives.
  Time is compressed: the service runs with `MastodonPublisher.resend_safe_for` of
  `--key-lifetime` s (45 minutes in production) and the fake forgets a key after 4/3 of that (an
  hour to 45 minutes), so a resend under an expired key would make a second status.
- `disk-full`: every file write of the service fails with EFBIG (`RLIMIT_FSIZE` 0 set on its
  process from outside, as `prlimit --pid PID --fsize=0` does; the runner ignores SIGXFSZ). Its
  log files are what it writes; PostgreSQL runs in processes of its own and keeps writing.
- `db-read-only`: the database refuses writes (`ALTER DATABASE ... SET
  default_transaction_read_only = on`, and the service's connections terminated so that new ones
  pick it up, all but the one holding its leader lock: it stays leader while APScheduler's next
  job-store update fails, which ends the scheduler's thread); lifted the same way.

Reported per scenario against its targets: deliveries lost and published twice (0, 0); the
healthy platforms' delay from a post becoming due to its publication (p99 under two outbox
intervals); `/healthz` (polled every `HEALTH_POLL_S` s) non-200 within one outbox interval of the
scheduler thread's death (which the runner marks); SIGTERM honoured within 10 s. Also: recovery
after the lift, the service's own exits, `/healthz` transitions, states, log counts.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.pool import NullPool

from benchmarks.chaos import (
    PG_URL, POLL_S, ROOT, Chaos, ChaosBluesky, ChaosMastodon, ChaosX, Database, ForkLauncher, Run,
    child_env, on_platform, queue_posts, scan_logs, stats,
)
from benchmarks.chaos_proxy import CutProxy
from bot.config import Settings
from storage.base import as_utc
from storage.outbox import Delivery, PlatformHealth, Post, PostStatus

DEFAULT = "baseline,hang-x,refuse-bluesky,mastodon-429,disk-full,db-read-only"
PLATFORMS = ["x", "mastodon", "bluesky"]
SERVICE = "nowbot-chaos"  # the service's application_name on PostgreSQL
STATUS_CREATE = "POST /api/v1/statuses"
HEALTH_POLL_S = 0.25
RESTART_S = 1.0
SIGTERM_TARGET_S = 10.0
SETTLED = (PostStatus.PUBLISHED, PostStatus.FAILED)
TERMINATE = text("""
    SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
    WHERE a.datname = :database AND a.application_name = :app AND NOT EXISTS (
        SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)
""")


# -- the world the faults act on ---------------------------------------------------------------

class LimitedMastodon(ChaosMastodon):
    """After `limit_after_late()`, makes the next status but answers it `late_delay` s late, then
    answers every create 429 (reset `reset_in` s later) until `unlimit()`. Every other answer
    carries the rate limit's headers too, as Mastodon's API sends them."""

    def __init__(self, *args: Any, reset_in: float, **options: Any) -> None:
        super().__init__(*args, **options)
        self.reset_in = reset_in
        self.mode = "open"  # "late-next", "limited"

    def limit_after_late(self) -> None:
        with self.lock:
            self.mode = "late-next"

    def unlimit(self) -> None:
        with self.lock:
            self.mode = "open"

    def _answer(self, route, match, headers, fields):  # type: ignore[no-untyped-def]
        with self.lock:
            mode = self.mode if route == STATUS_CREATE else "open"
            if mode == "limited":
                self.fail(route, 429, reset_in=self.reset_in)  # consumed by this very request
        status, extra, payload, delay = super()._answer(route, match, headers, fields)
        if mode == "late-next" and status == 200:
            with self.lock:
                self.mode, self.late_answers = "limited", self.late_answers + 1
            delay = self.late_delay
        if status != 429:
            reset = datetime.now(UTC) + timedelta(minutes=5)
            extra = {**extra, "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                     "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        return status, extra, payload, delay


@dataclass
class World:
    """What the faults act on: the fakes, their proxies, the database, the service's process."""

    fakes: dict[str, Any]
    proxies: dict[str, CutProxy]
    database: str
    admin: Engine
    pid: int | None = None


class Fault:
    """No fault (the baseline). `platform`: the platform it hits (None: every one should stay
    on time); `min_seconds`: how long it must last to mean anything."""

    platform: str | None = None
    min_seconds = 0.0
    delay_judged = True  # whether the healthy platforms' delay target applies
    description = "none: every platform answers"

    def on(self, world: World) -> None:
        """Switch the fault on."""

    def off(self, world: World) -> None:
        """Lift it."""

    def started(self, world: World) -> None:
        """A service process (`world.pid`) started while the fault may be on."""


class Hang(Fault):
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.description = f"{platform} accepts connections and never answers"

    def on(self, world: World) -> None:
        world.proxies[self.platform].hang()

    def off(self, world: World) -> None:
        world.proxies[self.platform].restore()


class Refuse(Hang):
    def __init__(self, platform: str) -> None:
        super().__init__(platform)
        self.description = f"{platform}'s port is closed: connections are refused"

    def on(self, world: World) -> None:
        world.proxies[self.platform].refuse()


class RateLimit(Fault):
    platform = "mastodon"

    def __init__(self, fake_key_lifetime: float, interval: float) -> None:
        self.min_seconds = fake_key_lifetime + 2 * interval  # past the key, after the late create
        self.description = ("Mastodon makes a status but answers after the deadline, then 429 "
                            "on every create for longer than its Idempotency-Key lives")

    def on(self, world: World) -> None:
        world.fakes["mastodon"].limit_after_late()

    def off(self, world: World) -> None:
        world.fakes["mastodon"].unlimit()


class DiskFull(Fault):
    description = "every file write of the service fails with EFBIG (RLIMIT_FSIZE 0)"

    def __init__(self) -> None:
        self.active = False

    def on(self, world: World) -> None:
        self.active = True
        self.started(world)

    def off(self, world: World) -> None:
        self.active = False
        if world.pid is not None:
            _file_size_limit(world.pid, None)

    def started(self, world: World) -> None:
        if self.active and world.pid is not None:
            _file_size_limit(world.pid, 0)


def _file_size_limit(pid: int, limit: int | None) -> None:
    """Set `pid`'s RLIMIT_FSIZE soft limit (None: back to its hard limit), as `prlimit` does."""
    with suppress(ProcessLookupError):
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if limit is None else limit, hard))


class ReadOnly(Fault):
    delay_judged = False  # nothing can be published while every write fails
    description = ("the database is read-only for new sessions; the service's sessions but its "
                   "leader lock's are terminated")

    def __init__(self) -> None:
        self.terminated: list[int] = []

    def on(self, world: World) -> None:
        self._set(world, "SET default_transaction_read_only = on")

    def off(self, world: World) -> None:
        self._set(world, "RESET default_transaction_read_only")

    def _set(self, world: World, change: str) -> None:
        with world.admin.begin() as connection:
            connection.execute(text(f'ALTER DATABASE "{world.database}" {change}'))
            self.terminated.append(int(connection.scalar(
                TERMINATE, {"database": world.database, "app": SERVICE}) or 0))


def make_fault(name: str, args: argparse.Namespace) -> Fault:
    kind, _, platform = name.partition("-")
    if name == "baseline":
        return Fault()
    if kind in ("hang", "refuse") and platform in PLATFORMS:
        return Hang(platform) if kind == "hang" else Refuse(platform)
    if name == "mastodon-429":
        return RateLimit(fake_key_lifetime(args), args.interval)
    if name == "disk-full":
        return DiskFull()
    if name == "db-read-only":
        return ReadOnly()
    raise SystemExit(f"unknown scenario {name!r}: {DEFAULT}, hang-P or refuse-P (P: "
                     f"{', '.join(PLATFORMS)})")


def fake_key_lifetime(args: argparse.Namespace) -> float:
    """Seconds the fake Mastodon keeps a key: an hour to the publisher's 45 minutes."""
    return args.key_lifetime * 4 / 3


@contextmanager
def own_database() -> Iterator[Database]:
    """A fresh PostgreSQL database of its own (so that making it read-only touches nobody else),
    the service connecting as application `SERVICE`; dropped afterwards."""
    name = f"nowbot_chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield Database("postgresql", f"{url}?application_name={SERVICE}", url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


# -- watching the service ------------------------------------------------------------------------

class HealthProbe:
    """Polls `/healthz` of the service now running every `HEALTH_POLL_S` s, in a thread; keeps
    `(time.time(), pid, HTTP status or None when nothing answered)`."""

    def __init__(self) -> None:
        self.target: tuple[int, int] | None = None  # (pid, dashboard port)
        self.samples: list[tuple[float, int, int | None]] = []
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="healthz", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(HEALTH_POLL_S):
            if (target := self.target) is None:
                continue
            pid, port = target
            try:
                with self._opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    status: int | None = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = None
            self.samples.append((time.time(), pid, status))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Supervisor:
    """One `nowbot run` at a time, started again `RESTART_S` after it exits by itself, as
    `restart: unless-stopped` in docker-compose.yml would."""

    chaos: Chaos
    world: World
    fault: Fault
    probe: HealthProbe
    run: Run | None = None
    exits: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> None:
        port = free_port()
        self.run = self.chaos.start({"NOWBOT_DASHBOARD_PORT": str(port)})
        self.world.pid = self.run.pid
        self.probe.target = (self.run.pid, port)
        self.fault.started(self.world)

    def idle(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Keep the service up for `seconds`, or until `until()` (asked every second) is true."""
        end, asked = time.monotonic() + seconds, 0.0
        while time.monotonic() < end:
            run = self.run
            assert run is not None
            self.chaos.tail(run)
            code = self.chaos.launcher.exit_code(run.pid)
            if code is not None:
                run.exit_code, run.exited_by_itself = code, True
                self.exits.append({"run": run.number, "exit_code": code,
                                   "at_s": round(self.chaos.now(), 2), "log": str(run.log)})
                time.sleep(RESTART_S)
                self.start()
            if until is not None and time.monotonic() >= asked + 1:
                asked = time.monotonic()
                if until():
                    return
            time.sleep(POLL_S)

    def stop(self) -> dict[str, Any]:
        """SIGTERM the service; the seconds until it exited."""
        run = self.run
        assert run is not None
        started = time.monotonic()
        self.chaos.launcher.signal(run.pid, signal.SIGTERM)
        code = self.chaos.launcher.wait(run.pid, 3 * SIGTERM_TARGET_S)
        seconds = time.monotonic() - started
        self.chaos.tail(run)
        self.probe.target = None
        if code is None:
            self.chaos.launcher.signal(run.pid, signal.SIGKILL)
            self.chaos.launcher.wait(run.pid, 10)
        run.exit_code = code
        return {"exit_s": round(seconds, 2) if code is not None else None, "exit_code": code,
                "met": code is not None and seconds <= SIGTERM_TARGET_S}


# -- one scenario --------------------------------------------------------------------------------

def published_everywhere(engine: Engine) -> bool:
    """Whether every platform has published a delivery (so has logged in, where it must)."""
    with engine.connect() as connection:
        return set(connection.scalars(select(Delivery.platform).distinct().where(
            Delivery.status == PostStatus.PUBLISHED))) >= set(PLATFORMS)


def settled(engine: Engine, posts: list[int]) -> bool:
    """Whether every delivery of `posts` is published or failed."""
    with engine.connect() as connection:
        states = connection.scalars(select(Delivery.status).where(Delivery.post_id.in_(posts)))
        return all(state in SETTLED for state in states)


def run_scenario(name: str, args: argparse.Namespace, seed: int, workdir: Path) -> dict[str, Any]:
    """Run one scenario (see the module docstring) and measure it."""
    fault = make_fault(name, args)
    rng = random.Random(seed)
    fakes: dict[str, Any] = {
        "x": ChaosX(random.Random(seed + 1), args.latency, 0.0, 0.0),
        "mastodon": LimitedMastodon(random.Random(seed + 2), args.latency, 0.0, args.deadline + 2,
                                    reset_in=args.interval, key_lifetime=fake_key_lifetime(args)),
        "bluesky": ChaosBluesky(random.Random(seed + 3), args.latency, 0.0, 0.0),
    }
    proxies = {platform: CutProxy(("127.0.0.1", fake.port)) for platform, fake in fakes.items()}
    logs = workdir / name
    logs.mkdir()
    probe, launcher = HealthProbe(), None
    marks: dict[str, float] = {}
    try:
        with own_database() as db:
            settings = Settings(data_dir=logs / "var", database_url=db.direct_url,
                                review_mode=False, _env_file=None)
            queue_posts(settings, 0, name, PLATFORMS)  # the schema and the demo, as a first start
            env = child_env(db, logs / "var", fakes, args.timeout,
                            {platform: proxy.base_url for platform, proxy in proxies.items()})
            env.update({"NOWBOT_OUTBOX_INTERVAL_SECONDS": str(args.interval),
                        "NOWBOT_PUBLISH_DEADLINE_SECONDS": str(args.deadline),
                        "NOWBOT_EXIT_WHEN_SICK": str(args.exit_when_sick).lower(),
                        "CHAOS_KEY_LIFETIME": str(args.key_lifetime)})
            launcher = ForkLauncher(env, workdir, logs / "fork-helper.log")
            engine = create_engine(db.direct_url, poolclass=NullPool)  # no session outlives a fault
            admin = create_engine(PG_URL, poolclass=NullPool)
            world = World(fakes, proxies, db.direct_url.rsplit("/", 1)[1], admin)
            chaos = Chaos(args, rng, engine, launcher, logs, None)
            epoch0 = time.time() - chaos.now()
            service = Supervisor(chaos, world, fault, probe)
            service.start()
            service.idle(90, lambda: service.run is not None and service.run.led is not None)
            service.idle(args.interval)  # its first outbox run
            fault_s = max(args.fault_seconds, fault.min_seconds)
            count = int((args.warmup + fault_s + 2 * args.interval) / args.every)
            posts = queue_posts(settings, count, f"{name}-{seed}", PLATFORMS, due_in=args.every,
                                every=args.every)
            marks["posts_queued"] = chaos.now()
            service.idle(args.warmup)
            service.idle(60, lambda: published_everywhere(engine))  # the fault comes mid-run
            fault.on(world)
            marks["fault_on"] = chaos.now()
            service.idle(fault_s)
            fault.off(world)
            marks["fault_off"] = chaos.now()
            last_due = marks["posts_queued"] + count * args.every
            service.idle(args.tail, lambda: chaos.now() > last_due and settled(engine, posts))
            marks["caught_up" if settled(engine, posts) else "tail_ended"] = chaos.now()
            stop_posts = queue_posts(settings, 1, f"{name}-{seed}-stop", PLATFORMS, due_in=0)
            fault.on(world)
            marks["stop_fault_on"] = chaos.now()
            service.idle(args.interval + 1)
            marks["sigterm"] = chaos.now()
            sigterm = service.stop()
            fault.off(world)
            result = measure(engine, fakes, fault, posts, stop_posts, epoch0, marks, args)
            engine.dispose()
            admin.dispose()
    finally:
        probe.close()
        if launcher is not None:
            launcher.close()
        for platform in PLATFORMS:
            proxies[platform].close()
            fakes[platform].stop()
    deaths = [(pid, at - epoch0, what) for pid, at, what in launcher.marks
              if what.startswith("scheduler-died")]
    problem_ids = sorted({p["id"] for key in ("lost", "waiting", "twice")
                          for p in result["problems"][key]})
    log_counts, error_lines, mentions = scan_logs(logs, problem_ids)
    for key in ("lost", "waiting", "twice"):
        for post in result["problems"][key]:
            post["log_lines"] = mentions.get(post["id"], [])
    return {
        "scenario": name, "fault": fault.description, "faulty_platform": fault.platform,
        "timeline_s": {key: round(value, 2) for key, value in marks.items()},
        **result,
        "healthz": health(probe.samples, deaths, epoch0, args.interval),
        "sigterm": sigterm,
        "service_exits": service.exits,
        "runs": len(chaos.runs),
        "read_only_sessions_terminated": getattr(fault, "terminated", None),
        "log_counts": log_counts, "error_lines": error_lines, "logs": str(logs),
    }


# -- figures -------------------------------------------------------------------------------------

def measure(engine: Engine, fakes: dict[str, Any], fault: Fault, posts: list[int],
            stop_posts: list[int], epoch0: float, marks: dict[str, float],
            args: argparse.Namespace) -> dict[str, Any]:
    """Lost and twice, delays by platform, recovery after the lift, the stop post's states."""
    there = on_platform(fakes)
    with engine.connect() as connection:
        rows = connection.execute(select(
            Delivery.id, Delivery.post_id, Delivery.platform, Delivery.status, Delivery.attempts,
            Delivery.error, Delivery.text, Delivery.scheduled_for, Delivery.published_at,
            Post.publish_at).join(Post, Post.id == Delivery.post_id).order_by(Delivery.id)).all()
        paused = dict(connection.execute(select(PlatformHealth.platform,
                                                PlatformHealth.paused_until)).all())
    times = {row.id: there[row.platform][0][row.text] for row in rows}
    main = [row for row in rows if row.post_id in posts]
    now = datetime.now(UTC)
    missing = [row for row in main if row.status != PostStatus.PUBLISHED and not times[row.id]]
    waiting = [row for row in missing if row.status == PostStatus.UNKNOWN or (
        row.status == PostStatus.APPROVED and any(
            until is not None and as_utc(until) > now
            for until in (row.scheduled_for, paused.get(row.platform))))]
    lost = [row for row in missing if row not in waiting]
    twice = [row for row in rows if times[row.id] > 1]

    def moment(value: datetime | None) -> float | None:
        return None if value is None else round(as_utc(value).timestamp() - epoch0, 2)

    def describe(row: Any) -> dict[str, Any]:
        return {"id": row.post_id, "delivery": row.id, "platform": row.platform,
                "status": row.status, "attempts": row.attempts, "error": row.error,
                "times_there": times[row.id], "due_s": moment(row.publish_at),
                "scheduled_for_s": moment(row.scheduled_for),
                "platform_paused_until_s": moment(paused.get(row.platform))}

    delays: dict[str, list[float]] = {platform: [] for platform in PLATFORMS}
    for row in main:
        if row.status == PostStatus.PUBLISHED and row.published_at is not None:
            delays[row.platform].append(
                (as_utc(row.published_at) - as_utc(row.publish_at)).total_seconds())
    healthy = [platform for platform in PLATFORMS if platform != fault.platform]
    healthy_delays = stats([d for platform in healthy for d in delays[platform]])
    faulty = [fault.platform] if fault.platform else PLATFORMS
    after = [moment(row.published_at) for row in main if row.platform in faulty
             and row.published_at is not None and moment(row.published_at) > marks["fault_off"]]
    mastodon = fakes["mastodon"]
    with mastodon.lock:
        creates = [call for call in mastodon.requests if call.route == STATUS_CREATE]
        keys = [call.headers.get("idempotency-key") for call in creates if call.status == 200]
    return {
        "deliveries": len(main),
        "lost": len(lost),
        "waiting": len(waiting),
        "published_twice": len(twice),
        "states_by_platform": {platform: dict(Counter(str(r.status) for r in main
                                                      if r.platform == platform))
                               for platform in PLATFORMS},
        "delay_s": {platform: stats(values) for platform, values in delays.items()},
        "healthy_platforms": healthy,
        "healthy_delay_s": healthy_delays,
        "healthy_delay_target_s": 2 * args.interval if fault.delay_judged else None,
        "recovery_after_lift_s": round(min(after) - marks["fault_off"], 2) if after else None,
        "stop_post_states": {r.platform: str(r.status) for r in rows if r.post_id in stop_posts},
        "mastodon": {"creates": len(creates), "answered_429": sum(c.status == 429 for c in creates),
                     "answered_late": mastodon.late_answers,
                     "key_sent_again_and_answered": len(keys) - len(set(keys)),
                     "statuses": len(mastodon.statuses)},
        "problems": {"lost": [describe(r) for r in lost], "waiting": [describe(r) for r in waiting],
                     "twice": [describe(r) for r in twice]},
    }


def health(samples: list[tuple[float, int, int | None]], deaths: list[tuple[int, float, str]],
           epoch0: float, interval: float) -> dict[str, Any]:
    """`/healthz` over the scenario: its transitions, and how soon after each scheduler death it
    stopped answering 200 (a non-200 answer, or none: the process gone)."""
    transitions: list[list[Any]] = []
    for at, pid, status in samples:
        if not transitions or transitions[-1][1:] != [pid, status]:
            transitions.append([round(at - epoch0, 2), pid, status])
    after_death = []
    for pid, died, what in deaths:
        seen = next(((at - epoch0, status) for at, _, status in samples
                     if at - epoch0 >= died and status != 200), None)
        after_death.append({"pid": pid, "died_at_s": round(died, 2), "error": what.split()[-1],
                            "unhealthy_after_s": round(seen[0] - died, 2) if seen else None,
                            "answer": seen[1] if seen else None,
                            "met": seen is not None and seen[0] - died <= interval})
    return {"samples": len(samples), "non_200": sum(status != 200 for _, _, status in samples),
            "scheduler_deaths": after_death, "transitions": transitions[:60]}


def code_state() -> dict[str, Any]:
    """The commit measured, and the service's files that differed from it (the service runs the
    working tree)."""
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout

    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "uncommitted": git("status", "--porcelain", "bot", "storage").splitlines()}


def run_faults(args: argparse.Namespace) -> dict[str, Any]:
    """Every scenario of `args.scenarios`, in order, with a summary against the targets."""
    seed = args.seed if args.seed is not None else int(time.time())
    workdir = Path(tempfile.mkdtemp(prefix="nowbot-chaos-faults-"))
    started = time.monotonic()
    names = [name.strip() for name in (args.scenarios or DEFAULT).split(",") if name.strip()]
    for name in names:
        make_fault(name, args)  # unknown names fail before anything runs
    scenarios = [run_scenario(name, args, seed + 10 * n, workdir) for n, name in enumerate(names)]
    baseline = next((s["healthy_delay_s"]["p99"] for s in scenarios
                     if s["scenario"] == "baseline"), None)
    summary = []
    for s in scenarios:
        p99 = s["healthy_delay_s"]["p99"]
        deaths = s["healthz"]["scheduler_deaths"]
        summary.append({
            "scenario": s["scenario"], "lost": s["lost"], "waiting": s["waiting"],
            "published_twice": s["published_twice"],
            "healthy_delay_p99_s": p99, "baseline_delay_p99_s": baseline,
            "delay_met": None if s["healthy_delay_target_s"] is None else (
                p99 is not None and p99 < s["healthy_delay_target_s"]),
            "scheduler_deaths": len(deaths),
            "healthz_unhealthy_after_death_s": [d["unhealthy_after_s"] for d in deaths],
            "healthz_met": all(d["met"] for d in deaths) if deaths else None,
            "sigterm_exit_s": s["sigterm"]["exit_s"], "sigterm_met": s["sigterm"]["met"],
            "recovery_after_lift_s": s["recovery_after_lift_s"],
            "service_exits": len(s["service_exits"]),
        })
    return {
        "mode": "faults",
        "code": code_state(),
        "config": {"seed": seed, "scenarios": names, "outbox_interval_s": args.interval,
                   "publish_deadline_s": args.deadline, "publisher_timeout_s": args.timeout,
                   "every_s": args.every, "warmup_s": args.warmup,
                   "fault_s": args.fault_seconds, "tail_s": args.tail, "latency_s": args.latency,
                   "key_lifetime_s": args.key_lifetime,
                   "fake_key_lifetime_s": round(fake_key_lifetime(args), 1),
                   "exit_when_sick": args.exit_when_sick},
        "targets": {"lost": 0, "published_twice": 0,
                    "healthy_delay_p99_under_s": 2 * args.interval,
                    "healthz_unhealthy_within_s": args.interval,
                    "sigterm_exit_within_s": SIGTERM_TARGET_S},
        "summary": summary,
        "all_met": all(s["lost"] == 0 and s["published_twice"] == 0 and s["sigterm_met"]
                       and s["healthz_met"] is not False and s["delay_met"] is not False
                       for s in summary),
        "scenarios": scenarios,
        "wall_s": round(time.monotonic() - started, 1),
        "logs": str(workdir),
    }
