"""Helpers shared by CLI commands: the app context, turning errors into one-line exits (known
ones as they are said, others with their traceback in the log file), and name checks that
answer before any model is loaded.

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
    except Exception as error:  # a URL SQLAlchemy cannot parse, a folder it cannot make, ...
        fail(unexpected(error, "cannot open the database"))
    try:
        with ExitStack() as stack:
            if tensorflow:
                stack.enter_context(native_stderr_to(app.settings.data_dir / "logs"))
            yield app
    except USER_ERRORS as error:  # the error under one (a database's refusal) is logged
        fail(error if error.__cause__ is None else logged(error.__cause__, str(error)))
    finally:
        app.engine.dispose()


def fail(error: Exception | str) -> NoReturn:
    """Print `error` as one line (`say_error`) and exit with status 1."""
    say_error(error)
    raise typer.Exit(1) from None


def say_error(error: Exception | str) -> None:
    """Print `error` as one line: text from users or files is shown as written, never read as
    markup, with its control characters escaped."""
    from bot.logs import one_line

    err_console.print(f"[red]error:[/red] {escape(one_line(str(error)))}", highlight=False,
                      soft_wrap=True)


def unexpected(error: Exception, doing: str = "the command failed") -> str:
    """The line that says `error`, one no package put in words (a full disk, a broken
    database URL): what it was, after `logged`."""
    from bot.logs import mask, secret_values

    return logged(error, mask(f"{doing}: {_said(error)}", secret_values()))


def logged(error: BaseException, line: str) -> str:
    """`line` with where `error`'s traceback was logged: the log file only (the console shows
    `line`), `DATA_DIR/logs/cli.log` unless records already go to a file."""
    from bot.config import ConfigError, get_settings
    from bot.logs import CLI_LOG_FILE, FILE_ONLY, log_file, log_to_file

    path = log_file()
    if path is None:
        try:
            path = log_to_file(get_settings().data_dir / "logs", CLI_LOG_FILE)
        except (ConfigError, OSError):
            return line
    log.error("%s", line, exc_info=error, extra=FILE_ONLY)
    return f"{line} (details in {path})"


def _said(error: Exception) -> str:
    """What `error` says, in a line: a database's own reason, a file error with its file."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and error.orig is not None:
        return f"database error: {_first_line(error.orig)}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


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
