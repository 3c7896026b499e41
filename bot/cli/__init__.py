"""The `nowbot` command line. Feature modules add their commands to the groups in `groups`."""

from __future__ import annotations

import logging

import typer

from bot.cli import collect as _collect  # noqa: F401
from bot.cli import corpus as _corpus  # noqa: F401
from bot.cli import db as _db  # noqa: F401  (registers commands)
from bot.cli import discord as _discord  # noqa: F401
from bot.cli import groups
from bot.cli import images as _images  # noqa: F401
from bot.cli import queue as _queue
from bot.cli import text as _text  # noqa: F401
from bot.cli.service import run

app = typer.Typer(
    name="nowbot",
    help="A generative social bot that learns to write and draw, and posts what it makes.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(groups.db, name="db")
app.add_typer(groups.corpus, name="corpus")
app.add_typer(groups.images, name="images")
app.add_typer(groups.train, name="train")
app.add_typer(groups.generate, name="generate")
app.add_typer(_discord.group, name="discord")
app.add_typer(_queue.queue, name="queue")
app.command("run")(run)


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
) -> None:
    from bot.logs import setup_logging

    setup_logging(logging.DEBUG if verbose else None)


def main() -> None:
    """Entry point of the `nowbot` console script."""
    app()
