"""Discord interaction latency while a model trains: the 3-second promise under load.

Bursts of concurrent `/tweet` and `/image` interactions (half each, one user per interaction)
go to the real discord.py client logged in to the fake Discord, first on an idle machine (the
baseline), then while a training subprocess runs. Prompt-less tweets come from the adapter's
ready-tweet pool: each burst starts once no refill is running (the wait is reported);
`--prompt TEXT` measures the generate-on-demand path instead. Measured from the moment the fake dispatches
an interaction: the first response (the deferral) and the final follow-up.
Targets: first response p99 < 250 ms, `/tweet` complete median < 150 ms, none past 3 s.

Load: `nowbot train text` on a small corpus this script writes (a real CPU-bound TensorFlow run in
its own process), or `--load burn` for one busy-looping process per core.
Generation: short `nowbot train text` and `nowbot train gan` runs first make serving models;
both commands answer through `bot.generation` from them, as in the bot.

    .venv/bin/python -m benchmarks.discord_latency [--burst 50] [--rounds 3] [--load train|burn]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_discord import FakeDiscord, Member, logged_in  # noqa: E402

from bot import generation  # noqa: E402
from bot.platforms.discord.client import build_client  # noqa: E402
from bot.app import App, open_app  # noqa: E402
from bot.chat.models import LocalChatModels  # noqa: E402
from bot.core.runtime import Runtime  # noqa: E402
from bot.commands import TweetRequest  # noqa: E402
from bot.config import Settings  # noqa: E402
from corpora.ingest import get_or_create_persona, store_tweets  # noqa: E402
from corpora.records import RawTweet  # noqa: E402
from models.errors import NoServingModel  # noqa: E402

RESULTS = Path(__file__).with_name("results")
PERSONA, IMAGE_SET = "bench", "benchdigits"


# -- setup -----------------------------------------------------------------------------------

WORDS = (
    "render ray shader pixel light frame scene mesh vertex texture shadow glow color depth "
    "keynote stage booth demo paper talk poster lab night city river music dance code "
    "fast bright quiet wild new open tiny huge warm cold soft sharp live real together "
    "build ship trace paint show share meet join see learn play make dream"
).split()


def seed(app: App) -> None:
    """A persona with a corpus of random word sequences written here (varied enough that a
    briefly trained model writes new text rather than copies)."""
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(6, 16))).capitalize() + "!"
             for _ in range(600)]
    with app.sessions.begin() as session:
        store_tweets(session, get_or_create_persona(session, PERSONA),
                     [RawTweet(text=text) for text in texts])


def train_text(data_dir: Path, minutes: float, wait: bool, nice: int = 0,
               threads: int = 0) -> subprocess.Popen[bytes]:
    """`nowbot train text` on the benchmark persona in a child process, started the way the
    service's jobs start it (`python -m bot.cli` in its own session), at `nice` priority and
    with TensorFlow capped at `threads` (0: no cap)."""
    env = {**os.environ, "NOWBOT_DATA_DIR": str(data_dir)}
    if threads > 0:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(threads)
    command = ["nice", "-n", str(nice), sys.executable, "-m", "bot.cli", "train", "text",
               "--persona", PERSONA, "--minutes", str(minutes)]
    log = data_dir / "train.log"
    with open(log, "ab") as output:
        proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
    if wait and proc.wait() != 0:
        raise SystemExit(f"training failed: {log.read_text()[-500:]}")
    return proc


def train_models(data_dir: Path, text_minutes: float, gan_minutes: float) -> None:
    """Serving models for the benchmark persona and image set, trained as a user would."""
    train_text(data_dir, text_minutes, wait=True)
    env = {**os.environ, "NOWBOT_DATA_DIR": str(data_dir)}
    for args in (["images", "import", IMAGE_SET, "builtin:digits"],
                 ["train", "gan", "--set", IMAGE_SET, "--minutes", str(gan_minutes)]):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"nowbot {' '.join(args)} failed: {done.stderr[-500:]}")


def check_serving(app: App) -> None:
    """Both commands must answer from real serving models, never from stand-ins."""
    try:
        generation.generate_tweets(app, PERSONA)
        generation.render_image_grid(app, IMAGE_SET, 16)
    except NoServingModel as error:
        raise SystemExit(f"benchmark set-up left no serving model: {error}") from None


def start_load(kind: str, data_dir: Path, app: App, nice: int,
               threads: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    """Start the CPU load and wait until it is really working."""
    if kind == "burn":
        procs = [subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c", "while True: pass"])
                 for _ in range(os.cpu_count() or 1)]
        time.sleep(1)
        return procs, f"{len(procs)} busy-looping processes at nice {nice}"
    proc = train_text(data_dir, 30, wait=False, nice=nice, threads=threads)
    from storage.registry import RunStatus, TrainingRun

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with app.sessions() as session:
            if session.query(TrainingRun).filter_by(status=RunStatus.RUNNING).count():
                time.sleep(5)  # past graph tracing: into the training steps
                return [proc], (f"`nowbot train text` (TensorFlow char-GRU, cpu preset) in a "
                                f"child process at nice {nice}, TensorFlow threads "
                                f"{threads or 'uncapped'}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the training subprocess never started training; try --load burn")


def stop(procs: list[subprocess.Popen[bytes]]) -> bool:
    """Stop the load; True when all of it was still running (it loaded the whole phase)."""
    alive = all(proc.poll() is None for proc in procs)
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return alive


# -- measuring -------------------------------------------------------------------------------

async def burst(fake: FakeDiscord, size: int, prompt: str) -> list[dict[str, Any]]:
    """Send `size` interactions at once; wait for every follow-up; return their timings."""
    tweet = {"persona": PERSONA, **({"prompt": prompt} if prompt else {})}
    payloads = [("tweet", fake.command("tweet", Member(), **tweet)) if n % 2 == 0
                else ("image", fake.command("image", Member(), set=IMAGE_SET, count=16))
                for n in range(size)]
    sent = [(name, await fake.send_interaction(payload)) for name, payload in payloads]
    timings = []
    for name, interaction in sent:
        def first(call: Any, token: str = interaction.token) -> bool:
            return call.path.endswith(f"/{token}/callback")

        def done(call: Any, token: str = interaction.token) -> bool:
            return call.method == "POST" and call.path.endswith(f"/webhooks/{fake.application_id}/{token}")

        ack = await fake.wait_for(first, timeout=30)
        final = await fake.wait_for(done, timeout=30)
        timings.append({
            "command": name, "first_ms": (ack.at - interaction.dispatched_at) * 1000,
            "final_ms": (final.at - interaction.dispatched_at) * 1000,
            "ok": ack.status == 200 and final.status == 200 and not final.flags & 64,
            "reply": final.json.get("content", ""),
        })
    return timings


def serve_fake() -> None:
    """Child process: the fake Discord plus a control endpoint that runs bursts on request.
    Prints one JSON line (addresses and token) once listening."""
    from aiohttp import web

    async def main() -> None:
        fake = FakeDiscord()
        await fake.start()

        async def run_burst(request: web.Request) -> web.Response:
            body = await request.json()
            return web.json_response(await burst(fake, body["size"], body["prompt"]))

        control = web.Application()
        control.router.add_post("/burst", run_burst)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(json.dumps({"api_base": fake.api_base, "gateway": fake.gateway_url,
                          "token": fake.token, "control": f"http://127.0.0.1:{port}"}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class RemoteFake:
    """The fake Discord in its own process, as a real server is: its work never competes with
    the bot for this process's interpreter lock."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.discord_latency",
                                      "--serve-fake"], stdout=subprocess.PIPE)
        info = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.token, self.control = info["token"], info["control"]
        self.api_base, self.gateway = info["api_base"], yarl.URL(info["gateway"])

    @contextmanager
    def pointed_at(self) -> Iterator[None]:
        saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self.api_base, self.gateway
        try:
            yield
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved

    async def burst(self, size: int, prompt: str) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            reply = await session.post(f"{self.control}/burst", json={"size": size, "prompt": prompt})
            return await reply.json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def measure(app: App, fake: RemoteFake, size: int, rounds: int,
                  prompt: str) -> tuple[list[dict[str, Any]], list[float]]:
    """Timings of `rounds` bursts, and how long the ready-tweet pool took to refill before each."""
    settings = app.settings.model_copy(
        update={"discord_token": SecretStr(fake.token), "discord_cooldown_seconds": 0.0})
    models = LocalChatModels(App(settings, app.engine, app.sessions))
    client = build_client(Runtime(models.app, generation, {}, chat=models),
                          guild_ready_timeout=0.05)
    timings: list[dict[str, Any]] = []
    refills = []
    try:
        async with logged_in(fake, client):  # type: ignore[arg-type]
            await fake.burst(4, prompt)  # warm-up: database connections, the model, the pool
            for _ in range(rounds):
                started = time.monotonic()
                while not prompt and models.tweets.refilling(TweetRequest(PERSONA)):
                    if time.monotonic() - started > 60:
                        break
                    await asyncio.sleep(0.05)
                refills.append(round(time.monotonic() - started, 2))
                timings += await fake.burst(size, prompt)
    finally:
        await models.close()
    return timings, refills


def summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    def percentiles(values: list[float]) -> dict[str, float]:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return {"median": round(statistics.median(values), 1), "p95": round(cuts[94], 1),
                "p99": round(cuts[98], 1), "max": round(max(values), 1)}

    tweets = [t["final_ms"] for t in timings if t["command"] == "tweet"]
    images = [t["final_ms"] for t in timings if t["command"] == "image"]
    first = [t["first_ms"] for t in timings]
    result = {
        "interactions": len(timings), "failed": sum(not t["ok"] for t in timings),
        "failures": sorted({t["reply"] for t in timings if not t["ok"]}),
        "first_response_ms": percentiles(first),
        "tweet_complete_ms": percentiles(tweets), "image_complete_ms": percentiles(images),
        "past_3s": sum(max(t["first_ms"], t["final_ms"]) > 3000 for t in timings),
    }
    result["targets_met"] = {
        "first_response_p99_under_250ms": result["first_response_ms"]["p99"] < 250,
        "tweet_complete_median_under_150ms": result["tweet_complete_ms"]["median"] < 150,
        "none_past_3s": result["past_3s"] == 0 and result["failed"] == 0,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=50, help="Concurrent interactions per burst.")
    parser.add_argument("--rounds", type=int, default=3, help="Bursts per phase.")
    parser.add_argument("--load", choices=["train", "burn"], default="train")
    service = Settings()
    parser.add_argument("--nice", type=int, default=service.train_niceness,
                        help="Niceness of the load (default: as `nowbot run` starts training).")
    parser.add_argument("--threads", type=int, default=service.training_threads,
                        help="TensorFlow threads of the training load (default: as `nowbot run`;"
                             " 0: no cap).")
    parser.add_argument("--prompt", default="",
                        help="Give every /tweet this prompt (no ready-tweet pool: all generated).")
    parser.add_argument("--first-train-minutes", type=float, default=0.5,
                        help="Training that makes the serving model the benchmark samples.")
    parser.add_argument("--gan-minutes", type=float, default=1.5,
                        help="Training that makes the serving image model /image draws from.")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        app = open_app(Settings(data_dir=data_dir))
        seed(app)
        train_models(data_dir, args.first_train_minutes, args.gan_minutes)
        check_serving(app)
        fake = RemoteFake()
        try:
            baseline, idle_refills = asyncio.run(
                measure(app, fake, args.burst, args.rounds, args.prompt))
            procs, load = start_load(args.load, data_dir, app, args.nice, args.threads)
            try:
                loaded, loaded_refills = asyncio.run(
                    measure(app, fake, args.burst, args.rounds, args.prompt))
            finally:
                load_alive = stop(procs)
        finally:
            fake.close()
            app.engine.dispose()

    report = {
        "benchmark": "discord_latency",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "burst": args.burst, "rounds": args.rounds,
        "generation": "bot.generation on serving text and GAN models trained in set-up",
        "load": load, "load_alive_until_stopped": load_alive,
        "tweet_prompt": args.prompt or None,
        "baseline_idle": summary(baseline) | {"pool_refill_waits_s": idle_refills},
        "during_training": summary(loaded) | {"pool_refill_waits_s": loaded_refills},
    }
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"discord_latency-{stamp}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
