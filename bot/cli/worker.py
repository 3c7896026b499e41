"""`nowbot worker`: run queued jobs (`NOWBOT_JOB_QUEUE=postgresql`)."""

from __future__ import annotations

import typer

from bot.cli.common import cli_app
from bot.errors import NowbotError

QUEUE_NAMES = ("default", "training", "generate")


def worker(
    queues: str = typer.Option(
        ",".join(QUEUE_NAMES), "--queues", "-q",
        help="Comma-separated queues to take jobs from: default (posts, publishing, images), "
             "training, generate (chat's tweets and pictures)."),
    concurrency: int = typer.Option(
        4, "--concurrency", "-c", min=1, max=256, help="Jobs run at the same time."),
    name: str = typer.Option("", "--name", help="This worker's name (default: host and queues)."),
) -> None:
    """Run queued jobs until Ctrl-C; start as many as wanted, on any machine.

    Needs NOWBOT_JOB_QUEUE=postgresql (and the PostgreSQL database every process shares); the
    elected `nowbot run` process queues the scheduled jobs.
    """
    from bot.logs import log_to_file, native_stderr_to
    from bot.queue.worker import work
    from bot.service import run_until_signalled

    wanted = tuple(dict.fromkeys(part.strip() for part in queues.split(",") if part.strip()))
    unknown = [queue for queue in wanted if queue not in QUEUE_NAMES]
    if not wanted or unknown:
        raise typer.BadParameter(f"takes {', '.join(QUEUE_NAMES)}, not "
                                 f"{', '.join(unknown) or 'nothing'}", param_hint="--queues")
    with cli_app(tensorflow=True) as app:
        if app.settings.job_queue != "postgresql":
            raise NowbotError("nowbot worker needs NOWBOT_JOB_QUEUE=postgresql (and a PostgreSQL "
                              "NOWBOT_DATABASE_URL); the embedded service runs its jobs itself")
        logs = app.settings.data_dir / "logs"
        log_to_file(logs)
        with native_stderr_to(logs):
            run_until_signalled(lambda stop: work(app, stop, queues=wanted,
                                                  concurrency=concurrency, name=name or None))
