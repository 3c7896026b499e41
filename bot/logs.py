"""Logging set-up with a filter that masks every configured secret wherever it appears."""

from __future__ import annotations

import logging

from bot.config import ConfigError, Settings, get_settings

MASK = "***"


class SecretFilter(logging.Filter):
    """Replace the value of every `SecretStr` setting in log messages with `***`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.secrets = [
            value.get_secret_value()
            for value in settings.__dict__.values()
            if hasattr(value, "get_secret_value") and value.get_secret_value()
        ]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, MASK)
            record.msg, record.args = message, None
        return True


def setup_logging(level: int | None = None, settings: Settings | None = None) -> None:
    """Log to stderr at the configured level, with secrets masked."""
    try:
        settings = settings or get_settings()
    except ConfigError:
        settings = None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if settings is not None:
        handler.addFilter(SecretFilter(settings))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or getattr(logging, settings.log_level if settings else "INFO"))
    logging.getLogger("alembic").setLevel(logging.WARNING)
