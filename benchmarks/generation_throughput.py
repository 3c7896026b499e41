"""Tweets per second through the generation layer: the engine against the per-request path.

A stream of mixed prompted requests (`--clients` concurrent callers, each asking again as soon
as it is answered, with one of many prompts and temperatures) runs for `--seconds` through:

- `engine`: `bot.chat.engine.GenerationEngine`, every waiting request's candidates stepped in one
  batch by one thread (what the Discord adapter uses), its large products in bfloat16 where that
  measured faster (reported); `engine_fp32`: the same without that;
- `per_request`: one `bot.generation.generate_tweets` call per request in a pool of two model
  threads, as the adapter worked before the engine (it also coalesced equal requests, which this
  stream of mixed prompts rarely has).

Both select each tweet from the chat's 16 candidates (`NOWBOT_TEXT_CANDIDATES_CHAT`), idle and
then while `nowbot train text` runs in a child process (as the service starts it), both sides
in the same run on the same serving model (trained in set-up by `benchmarks.discord_latency`'s
helpers). Targets: at least 300 selected tweets per second idle, 150 while training.

`--scaled` measures the path of many machines instead, on a fresh schema of the PostgreSQL
database `--database-url` names (default: $TEST_DATABASE_URL), idle and while training: the
in-process engine, then `QueuedChatModels` (the chat side of a Discord shard, in this process)
answered by one and by two `nowbot worker --queues generate` processes; the same stream of
requests, the same clients, the same model. Also per side: one client alone (the latency the queue
adds without batching), the CPU per tweet by process, PostgreSQL commits per tweet; and, while
training, prompted `/tweet` bursts (`--burst` at once, a second apart) through one worker, whose
p99 should stay under 1 s.

    .venv/bin/python -m benchmarks.generation_throughput [--clients 50] [--seconds 20]
    .venv/bin/python -m benchmarks.generation_throughput --scaled [--clients 50] [--seconds 15]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `bot` sets it for the service, before NumPy loads

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.discord_latency import PERSONA, WORDS, seed, start_load, stop, train_text
from benchmarks.queue_workers import CpuMeter, fresh_schema, generation_workers
from bot import generation
from bot.app import App, open_app
from bot.chat.engine import GenerationEngine
from bot.commands import TweetRequest
from bot.config import Settings
from bot.generation import GeneratedText
from bot.queue.chat import QueuedChatModels
from bot.service import INFERENCE_THREADS

RESULTS = Path(__file__).with_name("results")
TEMPERATURES = (0.7, 0.8, 0.9, 1.0)
WARM_UP_S, ONE_CLIENT_S, BURST_ROUNDS = 6.0, 5.0, 5


def prompts(count: int = 40) -> list[str]:
    """Prompts of one to three of the corpus's words, capitalised like a person types them."""
    rng = np.random.default_rng(1)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 4))).capitalize() for _ in range(count)]


def per_request_path(app: App) -> tuple[Any, ThreadPoolExecutor]:
    """The adapter's generation before the engine: a call per request in two model threads."""
    pool = ThreadPoolExecutor(2, thread_name_prefix="per-request")

    async def generate(request: TweetRequest) -> GeneratedText:
        [text] = await asyncio.get_running_loop().run_in_executor(pool, partial(
            generation.generate_tweets, app, request.persona, prompt=request.prompt,
            temperature=request.temperature, blend_with=request.blend_with))
        return text

    return generate, pool


async def stream(get: Any, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` callers asking one after another for `seconds`; tweets per second and latency."""
    texts, rng = prompts(), np.random.default_rng(2)
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < deadline:
            request = TweetRequest(PERSONA, str(rng.choice(texts)), float(rng.choice(TEMPERATURES)))
            started = time.monotonic()
            try:
                answer = await get(request)
                assert answer.text.startswith(request.prompt)
            except Exception as error:  # noqa: BLE001  (counted and reported)
                failures.append(f"{type(error).__name__}: {error}"[:200])
                continue
            latencies.append(1000 * (time.monotonic() - started))

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0] * 99
    return {
        "tweets": len(latencies), "seconds": round(elapsed, 1),
        "tweets_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {"median": round(statistics.median(latencies), 1) if latencies else None,
                       "p99": round(cuts[98], 1)},
        "failed": len(failures), "failures": sorted(set(failures))[:5],
    }


async def all_sides(app: App, clients: int, seconds: float) -> dict[str, Any]:
    """The engine (bfloat16 products where they measured faster), the engine in fp32 only, and
    the per-request path, one after another on the same model."""
    engines = {"engine": GenerationEngine(app), "engine_fp32": GenerationEngine(app, accelerate=False)}
    per_request, pool = per_request_path(app)
    head = generation.serving_generator(app, PERSONA)[1].head
    sides: dict[str, Any] = {name: partial(_one, engine) for name, engine in engines.items()}
    sides["per_request"] = per_request
    result: dict[str, Any] = {}
    try:
        await stream(sides["engine"], 4, 2)  # warm-up: load the version, compile, measure
        while head.measured is None:
            await asyncio.sleep(0.2)
        result["bfloat16"] = {"used": head.accelerate(), "from_rows": head.min_rows,
                              "fp32_and_bf16_ms_by_rows": head.measured}
        for name, get in sides.items():
            await stream(get, 4, 1)
            result[name] = await stream(get, clients, seconds)
    finally:
        for engine in engines.values():
            engine.close()
        pool.shutdown()
    result["engine_vs_per_request"] = round(
        result["engine"]["tweets_per_s"] / max(result["per_request"]["tweets_per_s"], 1e-9), 2)
    return result


async def scaled_sides(app: App, data_dir: Path, clients: int, seconds: float,
                       burst: int) -> dict[str, Any]:
    """The in-process engine, then the queue with one generation worker and with two."""
    result: dict[str, Any] = {}
    engine = GenerationEngine(app)
    try:
        result["in_process"] = await measured(partial(_one, engine), app, [], clients, seconds)
    finally:
        engine.close()
    for count in (1, 2):
        with generation_workers(count, data_dir, clients, app.engine) as workers:
            models = QueuedChatModels(app)
            try:
                side = await measured(models.tweet, app, workers, clients, seconds)
                if count == 1 and burst:
                    side["tweet_bursts"] = await bursts(models.tweet, burst, BURST_ROUNDS)
            finally:
                await models.close()
        result[f"queue_{count}_worker" + "s" * (count > 1)] = side
    base = result["in_process"]["latency_ms"]
    for name in ("queue_1_worker", "queue_2_workers"):
        side = result[name]
        side["vs_in_process"] = round(side["tweets_per_s"] / max(
            result["in_process"]["tweets_per_s"], 1e-9), 2)
        side["added_latency_ms"] = {
            "one_client_median": round(side["one_client"]["latency_ms"]["median"]
                                       - result["in_process"]["one_client"]["latency_ms"]["median"], 1),
            "median": round(side["latency_ms"]["median"] - base["median"], 1),
            "p99": round(side["latency_ms"]["p99"] - base["p99"], 1)}
    return result


async def measured(get: Any, app: App, workers: list[Any], clients: int,
                   seconds: float) -> dict[str, Any]:
    """A warm-up, the stream of `clients` with its CPU per tweet, then one client alone."""
    await stream(get, clients, WARM_UP_S)  # every worker loads the model and compiles
    meter = CpuMeter(workers, app.engine)
    meter.start()
    side = await stream(get, clients, seconds)
    side["cpu_per_tweet"] = meter.split(side["tweets"])
    side["one_client"] = await stream(get, 1, ONE_CLIENT_S)
    return side


async def bursts(get: Any, size: int, rounds: int) -> dict[str, Any]:
    """`rounds` bursts of `size` prompted requests at once, a second apart: their latencies."""
    texts, rng = prompts(), np.random.default_rng(3)
    latencies: list[float] = []
    failed = 0

    async def one(request: TweetRequest) -> None:
        nonlocal failed
        started = time.monotonic()
        try:
            await get(request)
        except Exception:  # noqa: BLE001  (counted and reported)
            failed += 1
            return
        latencies.append(1000 * (time.monotonic() - started))

    for _ in range(rounds):
        await asyncio.gather(*(one(TweetRequest(PERSONA, str(rng.choice(texts)), 0.8))
                               for _ in range(size)))
        await asyncio.sleep(1)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"burst": size, "rounds": rounds, "failed": failed,
            "latency_ms": {"median": round(statistics.median(latencies), 1),
                           "p99": round(cuts[98], 1), "max": round(max(latencies), 1)}}


def projection(idle: dict[str, Any]) -> str:
    """What saturates first on N machines, in words, from this run's figures."""
    inproc, one, two = idle["in_process"], idle["queue_1_worker"], idle["queue_2_workers"]
    cpu, cores = one["cpu_per_tweet"], os.cpu_count() or 1
    busy = one["tweets_per_s"] * cpu["machine_ms"] / 1000 / cores
    return (
        f"On {cores} cores shared by the chat process, the workers and PostgreSQL, a second worker "
        f"adds no CPU and halves each worker's batches: {two['tweets_per_s']} tweets/s with 2 "
        f"workers, {one['tweets_per_s']} with 1, {inproc['tweets_per_s']} in process. With 1 "
        f"worker the machine was only {busy:.0%} busy: the worker fetches one job per query "
        f"(procrastinate's fetch loop), so its rate is bounded by that round trip and the event "
        f"loop it shares with the answers, not by CPU. Per tweet: worker {cpu['workers_ms']} ms "
        f"CPU, chat side {cpu['chat_process_ms']} ms, PostgreSQL and the rest {cpu['rest_ms']} ms, "
        f"{cpu['pg_commits_per_tweet']} commits (fetch polls included) and "
        f"{cpu['pg_rows_written_per_tweet']} rows written (job, its events and status, the "
        f"answer and its delete). On N machines: chat shards and workers scale out (about "
        f"{one['tweets_per_s']:.0f} tweets/s per worker as measured here, more with its own "
        f"cores); every worker's fetch, every insert and NOTIFY go to the one PostgreSQL, so it "
        f"saturates first, at roughly 1000/{cpu['rest_ms']} tweets/s per PostgreSQL core by CPU "
        f"and sooner by commit rate (WAL flushes) on a disk slower than this machine's. A "
        f"projection from shares measured on one machine, not a measurement of N machines.")


async def _one(engine: GenerationEngine, request: TweetRequest) -> GeneratedText:
    return (await engine.tweets(request, 1))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="Concurrent callers.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each stream.")
    parser.add_argument("--first-train-minutes", type=float, default=0.5)
    parser.add_argument("--scaled", action="store_true",
                        help="Through the PostgreSQL queue and generation worker processes.")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"),
                        help="PostgreSQL for --scaled (a schema of its own, dropped after).")
    parser.add_argument("--burst", type=int, default=25, help="/tweet burst size (--scaled).")
    service = Settings()
    args = parser.parse_args()
    if args.scaled and not (args.database_url or "").startswith("postgresql"):
        parser.error("--scaled needs a PostgreSQL --database-url (or TEST_DATABASE_URL)")
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):  # as `nowbot run` caps them
        os.environ.setdefault(name, str(INFERENCE_THREADS))

    with tempfile.TemporaryDirectory() as tmp, (
            fresh_schema(args.database_url) if args.scaled else nullcontext(None)) as url:
        data_dir = Path(tmp) / "var"
        if url:  # every child (training, workers) on the same schema, the queue on
            os.environ.update(NOWBOT_DATABASE_URL=url, NOWBOT_JOB_QUEUE="postgresql")
        app = open_app(Settings(data_dir=data_dir))
        seed(app)
        train_text(data_dir, args.first_train_minutes, wait=True)

        def sides(burst: int) -> dict[str, Any]:
            if args.scaled:
                return asyncio.run(scaled_sides(app, data_dir, args.clients, args.seconds, burst))
            return asyncio.run(all_sides(app, args.clients, args.seconds))

        idle = sides(0)
        procs, load = start_load("train", data_dir, app, service.train_niceness,
                                 service.training_threads)
        try:
            training = sides(args.burst)
        finally:
            load_alive = stop(procs)
        app.engine.dispose()

    report: dict[str, Any] = {
        "benchmark": "generation_throughput" + "_scaled" * args.scaled,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "command": " ".join(["python -m benchmarks.generation_throughput", *sys.argv[1:]]),
        "clients": args.clients, "candidates_per_tweet": service.text_candidates_chat,
        "load": load, "load_alive_until_stopped": load_alive,
        "idle": idle, "during_training": training,
    }
    if args.scaled:
        report["projection"] = projection(idle)
        report["targets_met"] = {"tweet_p99_under_1s_while_training": training["queue_1_worker"][
            "tweet_bursts"]["latency_ms"]["p99"] < 1000}
    else:
        report["targets_met"] = {
            "idle_300_per_s": idle["engine"]["tweets_per_s"] >= 300,
            "training_150_per_s": training["engine"]["tweets_per_s"] >= 150,
        }
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{report['benchmark']}-{stamp}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
