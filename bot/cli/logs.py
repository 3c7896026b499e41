"""`nowbot logs`: the last lines of the service's log (or a training child's), secrets masked;
`-f` follows it as it grows."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import fail

FOLLOW_POLL_S = 0.5


def logs_command(
    name: Annotated[str, typer.Argument(
        metavar="LOG", help="Which log: nowbot (the service), train-text, train-gan, collect, stderr (TensorFlow's "
             "native lines), ...", show_default=True,
    )] = "nowbot",
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many of the last lines.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep showing new lines until Ctrl-C.")] = False,
) -> None:
    """Show the last lines of a log under DATA_DIR/logs, with every configured secret masked."""
    from bot.config import ConfigError, get_settings
    from bot.logs import secret_values

    try:
        settings = get_settings()
    except ConfigError as error:
        fail(error)
    folder = settings.data_dir / "logs"
    path = folder / f"{name}.log"
    if "/" in name or not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.log")) if folder.is_dir() else []
        fail(f"no log named {name} in {folder}" + (f"; there are: {', '.join(known)}" if known
                                                    else "; `nowbot run` writes them"))
    secrets = secret_values(settings)
    with path.open("rb") as handle:
        for line in deque(handle, maxlen=lines) if lines else ():
            _echo(line, secrets)
        position = handle.seek(0, 2)
    if follow:
        _follow(path, position, secrets)


def _echo(line: bytes, secrets: list[str]) -> None:
    from bot.logs import mask

    typer.echo(mask(line.decode("utf-8", "replace"), secrets), nl=False)


def _follow(path: Path, position: int, secrets: list[str]) -> None:
    """Print lines added to `path` after `position` until Ctrl-C; a rotated file is read anew."""
    try:
        while True:
            try:
                if path.stat().st_size < position:  # rotated or truncated: it starts again
                    position = 0
                with path.open("rb") as handle:
                    handle.seek(position)
                    for line in handle:
                        _echo(line, secrets)
                    position = handle.tell()
            except FileNotFoundError:  # between a rotation's rename and the new file
                position = 0
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
