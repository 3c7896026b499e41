"""Helpers shared by CLI commands: the app context and turning known errors into one-line exits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from bot.app import App, open_app
from bot.errors import USER_ERRORS

console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("nowbot.cli")


@contextmanager
def cli_app() -> Iterator[App]:
    """Open the app for one command; known errors become a one-line message and exit code 1."""
    try:
        app = open_app()
    except USER_ERRORS as error:
        err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        yield app
    except USER_ERRORS as error:
        err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        app.engine.dispose()
