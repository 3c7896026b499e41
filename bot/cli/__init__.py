"""The `nowbot` command line. Feature modules add their commands to the groups in `groups`."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer

# Importing a feature module registers its commands on the groups.
from bot.cli import collect, corpus, db, discord, draw, groups, images, models, post, prior, queue, review, text  # noqa: F401
from bot.cli.common import say_error, unexpected
from bot.cli.logs import logs_command
from bot.cli.service import run
from bot.cli.worker import worker

class _Nowbot(typer.Typer):
    """The command line: whatever goes wrong that no command put in words is one line on the
    console, its traceback in the log file (`unexpected`), never a traceback on the console."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:  # the commands' own errors have exited already
            say_error(unexpected(error))
            sys.exit(1)


app = _Nowbot(
    name="nowbot",
    help="A generative social bot that learns to write and draw, and posts what it makes.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the groups' (`groups`)
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(groups.db, name="db")
app.add_typer(groups.corpus, name="corpus")
app.add_typer(groups.images, name="images")
app.add_typer(groups.train, name="train")
app.add_typer(groups.generate, name="generate")
app.add_typer(groups.discord, name="discord")
app.add_typer(groups.queue, name="queue")
app.add_typer(groups.post, name="post")
app.add_typer(groups.models, name="models")
app.add_typer(groups.review_model, name="review-model")
app.command("run")(run)
app.command("worker")(worker)
app.command("logs")(logs_command)


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
) -> None:
    from bot.logs import setup_logging

    setup_logging(logging.DEBUG if verbose else None)


def main() -> None:
    """Entry point of the `nowbot` console script."""
    app()
