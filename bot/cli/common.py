"""Helpers shared by CLI commands: the app context and turning known errors into one-line exits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
        fail(error)
    try:
        yield app
    except USER_ERRORS as error:
        fail(error)
    finally:
        app.engine.dispose()


def fail(error: Exception | str) -> NoReturn:
    """Print `error` as one line (text from users or files is shown as written, never read as
    markup) and exit with status 1."""
    err_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None
