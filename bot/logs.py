"""Logging set-up that masks every configured secret, and keeps every message on one line,
wherever a log record goes.

Both happen when a record is created (a log record factory), so they cover every handler: ours,
pytest's, and any a library adds later, for records from any logger (tweepy logs request
headers with the bearer token at DEBUG; oauthlib logs OAuth parameters). Secrets are the values of
the `SecretStr` settings, also read straight from the environment, `.env` and the TOML file, so
they stay masked when the settings themselves fail validation. Line breaks, terminal escapes and
other control characters in a message (a user's text, a file name) are written as escapes
(`\n`, `\x1b`), so no one can forge a log line in the file, the console or the dashboard;
tracebacks keep their lines.

The console says what happened, one line each (`13:47:35 post 1 prepared ...`); the routine
lines of APScheduler ("Running job ...") and of TensorFlow go only to the service's log file,
`DATA_DIR/logs/nowbot.log`. TensorFlow's native lines (oneDNN, CPU features, grappler) are
written by C++ straight to file descriptor 2, some before any log level applies: where
TensorFlow runs in-process they go to `DATA_DIR/logs/stderr.log` instead (`native_stderr_to`).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values
from pydantic import SecretStr
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import ConfigError, Settings, get_settings

MASK = "***"
HANDLER_NAME = "nowbot"
FILE_HANDLER_NAME = "nowbot-file"
LOG_FILE = "nowbot.log"  # the service's, in DATA_DIR/logs next to the training children's
NATIVE_LOG_FILE = "stderr.log"  # what native libraries write straight to stderr
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Their routine (below warning) lines stay out of the console: job runs, TensorFlow, page loads.
QUIET_LOGGERS = ("apscheduler", "procrastinate", "tensorflow", "absl", "aiohttp.access",
                 "py.warnings")
# A child of the service marks the lines its console should show (`bot.core.children`).
RELAY_ENV = "NOWBOT_RELAY"
RELAY_PREFIX = "nowbot> "
CLI_LOG_FILE = "cli.log"  # what went wrong in a command other than `nowbot run`
FILE_ONLY = {"file_only": True}  # `extra` for a record the console leaves out (a traceback)
# What `one_line` escapes: C0 and C1 controls but tab, DEL, and Unicode's line separators.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _secret_fields() -> list[str]:
    return [name for name, info in Settings.model_fields.items() if SecretStr in _types(info.annotation)]


def _types(annotation: Any) -> tuple[Any, ...]:
    return getattr(annotation, "__args__", (annotation,))


def _url_password(url: str) -> str | None:
    try:
        return make_url(url).password  # type: ignore[return-value]
    except (ArgumentError, ValueError):  # not a URL (a port that is no number): no password
        return None


def _raw_values(names: list[str]) -> list[str]:
    """Settings `names` as written in the environment, `.env` and the TOML file, valid or not."""
    env_names = {f"NOWBOT_{name}".upper() for name in names}
    values = [value for key, value in os.environ.items() if key.upper() in env_names]
    try:
        values += [v for k, v in dotenv_values(".env").items() if k.upper() in env_names and v]
        toml_path = os.environ.get("NOWBOT_CONFIG")
        if toml_path:
            table = tomllib.loads(Path(toml_path).read_text(encoding="utf-8"))
            values += [str(table[name]) for name in names if name in table]
    except (OSError, ValueError):
        pass  # an unreadable file holds nothing to log; settings validation reports it
    return values


def secret_values(settings: Settings | None = None) -> list[str]:
    """Every secret to mask, with URL-encoded forms, longest first (so no partial masks).

    Secrets are the `SecretStr` settings and the password inside the database URL (the rest of
    the URL may be logged).
    """
    fields = _secret_fields()
    values = _raw_values(fields)
    urls = _raw_values(["database_url"])
    if settings is not None:
        values += [getattr(settings, name).get_secret_value()
                   for name in fields if getattr(settings, name) is not None]
        urls.append(settings.resolved_database_url)
    values += [password for url in urls if (password := _url_password(url))]
    found = {form for value in values if value for form in (value, quote(value, safe=""))}
    return sorted(found, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret replaced by `***`."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def one_line(text: str) -> str:
    """`text` with line breaks, terminal escapes and other control characters (tab aside)
    written as Python escapes: `a\\nb` for a line break."""
    return CONTROL.sub(lambda found: found[0].encode("unicode_escape").decode("ascii"), text)


def mask_record(record: logging.LogRecord, secrets: list[str]) -> None:
    """Format `record`'s message now, on one line and with secrets masked, and its traceback
    and stack with secrets masked."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, masked, for the handler to show
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = one_line(mask(message, secrets)), None
    if not secrets:
        return
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info), secrets)
    if record.stack_info:
        record.stack_info = mask(record.stack_info, secrets)


class _MaskingRecordFactory:
    """Wraps the log record factory so every record is masked, and its message made one line,
    as it is made."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.secrets: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        mask_record(record, self.secrets)
        return record


def install_masking(settings: Settings | None) -> None:
    """Mask `settings`' secrets (and raw configured ones) in every log record from now on."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _MaskingRecordFactory):
        factory = _MaskingRecordFactory(factory)
        logging.setLogRecordFactory(factory)
    factory.secrets = secret_values(settings)


class ConsoleFormatter(logging.Formatter):
    """`13:47:35 what happened`; warnings and errors name their level, and a traceback is cut to
    its last line (the log file keeps it whole)."""

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        line = f"{self.formatTime(record, '%H:%M:%S')} {level}{record.getMessage()}"
        if record.exc_info:
            trace = record.exc_text or self.formatException(record.exc_info)
            line += f" ({trace.strip().splitlines()[-1]})"
        return line


def _not_routine(record: logging.LogRecord) -> bool:
    """False for the routine lines of `QUIET_LOGGERS`."""
    name = record.name
    quiet = any(name == q or name.startswith(q + ".") for q in QUIET_LOGGERS)
    return not quiet or record.levelno >= logging.WARNING


def setup_logging(level: int | None = None, settings: Settings | None = None) -> None:
    """Log to stderr at the configured level, one line per record without routine library
    lines (all of them with `level` DEBUG), with secrets masked in every record.

    Replaces only the handler an earlier call installed; handlers others added stay.
    """
    try:
        settings = settings or get_settings()
    except ConfigError:
        settings = None
    install_masking(settings)
    level = level or getattr(logging, settings.log_level if settings else "INFO")
    logging.captureWarnings(True)
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(lambda record: not getattr(record, "file_only", False))
    if level > logging.DEBUG:
        handler.addFilter(_not_routine)
    _replace_handler(handler)
    logging.getLogger().setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class _LogFile(logging.handlers.RotatingFileHandler):
    """A log file that, when it cannot be written (a full disk), says so in one line on stderr
    once until it can again, instead of a traceback for every record."""

    failing = False

    def emit(self, record: logging.LogRecord) -> None:
        self.erred = False
        super().emit(record)  # calls handleError for what goes wrong
        self.failing = self.erred

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self.erred = True
        if not self.failing:
            self.failing = True  # said once, even if saying it fails too
            error = sys.exc_info()[1]
            reason = getattr(error, "strerror", None) or one_line(str(error))
            with suppress(OSError, ValueError):  # stderr may be on the same full disk, or closed
                sys.stderr.write(f"nowbot: cannot write the log file {self.baseFilename} "
                                 f"({reason}); its lines are lost until it can be written\n")


def log_to_file(folder: Path, name: str = LOG_FILE) -> Path:
    """Also log every record (routine ones too) to `folder/name`, rotated at 10 MB; returns
    its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    handler = _LogFile(path, maxBytes=10_000_000, backupCount=3, encoding="utf-8")
    handler.set_name(FILE_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    _replace_handler(handler)
    return path


def log_file() -> Path | None:
    """The file records are logged to (`log_to_file`), if any."""
    handler = next((h for h in logging.getLogger().handlers if h.get_name() == FILE_HANDLER_NAME),
                   None)
    return Path(handler.baseFilename) if isinstance(handler, logging.FileHandler) else None


@contextmanager
def native_stderr_to(folder: Path) -> Iterator[Path]:
    """Within the block, what native code writes to file descriptor 2 (TensorFlow's C++ lines)
    is appended to `folder/stderr.log`; Python's `sys.stderr`, and so the console and error
    messages, keeps writing where it did. Restored afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NATIVE_LOG_FILE
    try:
        python_on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured stderr (tests): fd 2 is not it
        python_on_fd2 = False
    sys.stderr.flush()
    saved_fd, saved_stream = os.dup(2), sys.stderr
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(target, 2)
    os.close(target)
    if python_on_fd2:
        sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1, encoding=saved_stream.encoding,
                               errors="backslashreplace")
        _console_stream(sys.stderr)
    try:
        yield path
    finally:
        sys.stderr.flush()
        if python_on_fd2:
            moved, sys.stderr = sys.stderr, saved_stream
            _console_stream(saved_stream)
            moved.close()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)


def _console_stream(stream: object) -> None:
    for handler in logging.getLogger().handlers:
        if handler.get_name() == HANDLER_NAME and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def _replace_handler(handler: logging.Handler) -> None:
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == handler.get_name()]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
