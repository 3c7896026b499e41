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

    .venv/bin/python -m benchmarks.generation_throughput [--clients 50] [--seconds 20]
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
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.discord_latency import PERSONA, WORDS, seed, start_load, stop, train_text
from bot import generation
from bot.app import App, open_app
from bot.chat.engine import GenerationEngine
from bot.commands import TweetRequest
from bot.config import Settings
from bot.generation import GeneratedText
from bot.service import INFERENCE_THREADS

RESULTS = Path(__file__).with_name("results")
TEMPERATURES = (0.7, 0.8, 0.9, 1.0)


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


async def _one(engine: GenerationEngine, request: TweetRequest) -> GeneratedText:
    return (await engine.tweets(request, 1))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="Concurrent callers.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each stream.")
    parser.add_argument("--first-train-minutes", type=float, default=0.5)
    service = Settings()
    args = parser.parse_args()
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):  # as `nowbot run` caps them
        os.environ.setdefault(name, str(INFERENCE_THREADS))

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        app = open_app(Settings(data_dir=data_dir))
        seed(app)
        train_text(data_dir, args.first_train_minutes, wait=True)
        idle = asyncio.run(all_sides(app, args.clients, args.seconds))
        procs, load = start_load("train", data_dir, app, service.train_niceness,
                                 service.training_threads)
        try:
            training = asyncio.run(all_sides(app, args.clients, args.seconds))
        finally:
            load_alive = stop(procs)
        app.engine.dispose()

    report = {
        "benchmark": "generation_throughput",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "clients": args.clients, "candidates_per_tweet": service.text_candidates_chat,
        "load": load, "load_alive_until_stopped": load_alive,
        "idle": idle, "during_training": training,
        "targets_met": {
            "idle_300_per_s": idle["engine"]["tweets_per_s"] >= 300,
            "training_150_per_s": training["engine"]["tweets_per_s"] >= 150,
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"generation_throughput-{stamp}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
