"""Helpers shared by CLI commands: the app context, turning known errors into one-line exits, and
name checks that answer before any model is loaded.

Everything heavy (SQLAlchemy, the models) is imported inside functions: `nowbot --help` loads
only Typer and the command modules."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from bot.app import App

console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("nowbot.cli")


@contextmanager
def cli_app(tensorflow: bool = False) -> Iterator[App]:
    """Open the app for one command; known errors become a one-line message and exit code 1.
    `tensorflow`: the command may load TensorFlow, whose native start-up lines then go to
    `DATA_DIR/logs/stderr.log` instead of the console."""
    from bot.app import open_app
    from bot.errors import USER_ERRORS
    from bot.logs import native_stderr_to

    try:
        app = open_app()
    except USER_ERRORS as error:
        fail(error)
    try:
        with ExitStack() as stack:
            if tensorflow:
                stack.enter_context(native_stderr_to(app.settings.data_dir / "logs"))
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


def say_plain(text: str) -> None:
    """Print `text` as written (no markup, no highlighting, no wrapping)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def cli_user() -> str:
    """Who acts from this command line: the login name, as stored with a review or an edit."""
    return f"cli:{getpass.getuser()}"


def check_personas(app: App, *names: str) -> None:
    """Fail with a one-line error naming the first of `names` that is no persona."""
    from sqlalchemy import select

    from storage.corpus import Persona

    with app.sessions() as session:
        known = set(session.scalars(select(Persona.name).where(Persona.name.in_(names))))
    for name in names:
        if name not in known:
            fail(f"no persona named {name}; `nowbot corpus list` shows them")


def check_image_set(app: App, name: str) -> None:
    """Fail with a one-line error when there is no image set `name`."""
    from sqlalchemy import select

    from storage.imagesets import ImageSet

    with app.sessions() as session:
        if session.scalar(select(ImageSet.id).where(ImageSet.name == name)) is None:
            fail(f"no image set named {name}; `nowbot images list` shows them")


def confirm(question: str, yes: bool) -> None:
    """Ask `question` unless `yes`; a no (or no answer) stops the command, changing nothing."""
    if not yes:
        typer.confirm(question, abort=True)
