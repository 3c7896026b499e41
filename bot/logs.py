"""Logging set-up that masks every configured secret wherever a log record goes.

Masking happens when a record is created (a log record factory), so it covers every handler:
ours, pytest's, and any a library adds later, for records from any logger (tweepy logs request
headers with the bearer token at DEBUG; oauthlib logs OAuth parameters). Secrets are the values of
the `SecretStr` settings, also read straight from the environment, `.env` and the TOML file, so
they stay masked when the settings themselves fail validation.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterable
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


def _secret_fields() -> list[str]:
    return [name for name, info in Settings.model_fields.items() if SecretStr in _types(info.annotation)]


def _types(annotation: Any) -> tuple[Any, ...]:
    return getattr(annotation, "__args__", (annotation,))


def _url_password(url: str) -> str | None:
    try:
        return make_url(url).password  # type: ignore[return-value]
    except ArgumentError:
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


def mask_record(record: logging.LogRecord, secrets: list[str]) -> None:
    """Format `record`'s message, traceback and stack now, with secrets masked."""
    if not secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, masked, for the handler to show
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = mask(message, secrets), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info), secrets)
    if record.stack_info:
        record.stack_info = mask(record.stack_info, secrets)


class _MaskingRecordFactory:
    """Wraps the log record factory so every record is masked as it is made."""

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


def setup_logging(level: int | None = None, settings: Settings | None = None) -> None:
    """Log to stderr at the configured level, with secrets masked in every record.

    Replaces only the handler an earlier call installed; handlers others added stay.
    """
    try:
        settings = settings or get_settings()
    except ConfigError:
        settings = None
    install_masking(settings)
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level or getattr(logging, settings.log_level if settings else "INFO"))
    logging.getLogger("alembic").setLevel(logging.WARNING)
