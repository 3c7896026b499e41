"""The service's log files (`DATA_DIR/logs/*.log`: the service and its training and collection
children), read back for a person: the newest lines of each, with every secret masked again
(a child's raw output may hold what no log record did)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from bot.logs import mask, secret_values

TAIL_BYTES = 64 * 1024  # enough for the last lines of any log; a file is never read whole


@dataclass(frozen=True)
class LogTail:
    """The last lines of one log file."""

    name: str  # the file's name without .log ("train-text")
    modified: datetime
    lines: list[str]


def log_files(app: App) -> list[Path]:
    """The log files, most recently written first."""
    folder = app.settings.data_dir / "logs"
    files = [path for path in folder.glob("*.log") if path.is_file()] if folder.is_dir() else []
    return sorted(files, key=lambda path: path.stat().st_mtime, reverse=True)


def _tail(path: Path, count: int) -> list[str]:
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - TAIL_BYTES))
        data = file.read()
    lines = data.decode("utf-8", errors="replace").replace("\r", "\n").splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first may be cut
    return [line for line in lines if line.strip()][-count:]


def last_lines(app: App, count: int = 20, files: int = 6) -> list[LogTail]:
    """The last `count` lines of each of the `files` most recently written log files, masked."""
    secrets = secret_values(app.settings)
    return [
        LogTail(path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC),
                [mask(line, secrets) for line in _tail(path, count)])
        for path in log_files(app)[:files]
    ]
