"""Service settings: one typed object read from the environment, `.env` and an optional TOML file.

Every setting is `NOWBOT_<NAME>` in the environment (for example `NOWBOT_DATABASE_URL`).
`NOWBOT_CONFIG` may name a TOML file whose top-level keys are the same names in lower case.
Precedence: environment > `.env` > TOML file > defaults. Secrets are `SecretStr` so that they
never show up in `repr()`, logs or tracebacks.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import NowbotError
from storage.artifact_store import parse_location

IdList = Annotated[frozenset[int], NoDecode]
"""Discord ids: comma-separated in the environment and `.env` (`123,456`), a list in TOML."""
ShardIds = Annotated[tuple[int, ...], NoDecode]
"""Discord shard ids: ranges and single ids (`0-3`, `0,2,5`), or a list in TOML."""


class ConfigError(NowbotError):
    """Settings failed validation; the message names each bad setting."""


class _NowbotLines(PydanticBaseSettingsSource):
    """The `.env` file's settings without other programs' lines (docker compose reads the same
    file for `POSTGRES_PASSWORD`): only `NOWBOT_` names are nowbot's, and an unknown one is still
    refused as a typo."""

    def __init__(self, settings_cls: type[BaseSettings],
                 dotenv: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._dotenv = dotenv

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # all of it comes from `__call__`

    def __call__(self) -> dict[str, Any]:
        prefix = str(self.config.get("env_prefix", "")).lower()
        return {name: value for name, value in self._dotenv().items()
                if name in self.settings_cls.model_fields or name.lower().startswith(prefix)}


class Settings(BaseSettings):
    """Everything nowbot can be configured with. Defaults give the embedded, offline setup."""

    model_config = SettingsConfigDict(
        env_prefix="NOWBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        env_ignore_empty=True,  # `NAME=` in `.env` means the default, as .env.example says
        validate_default=True,
    )

    # Storage
    data_dir: Path = Field(Path("var"), description="Root folder for the SQLite file and artifacts.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at DATA_DIR/nowbot.db."
    )
    artifacts_dir: Path | None = Field(
        None, description="Model artifacts folder; default DATA_DIR/artifacts."
    )
    artifact_store: str = Field(
        "local", description="Where model versions are shared between machines: 'local' (the "
        "artifacts folder) or s3://bucket/prefix (an S3 bucket, credentials from the AWS_* "
        "variables; each machine keeps verified copies in ARTIFACTS_DIR/cache).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="URL of an S3-compatible server for the artifact store; empty: AWS."
    )
    job_queue: Literal["embedded", "postgresql"] = Field(
        "embedded",
        description="Where scheduled jobs run: in the service's process (embedded), or queued in "
                    "PostgreSQL for `nowbot worker` processes on any machine (postgresql).",
    )
    queue_stall_seconds: int = Field(
        30, ge=3, le=600,
        description="A queue worker silent this long is taken for dead: its jobs run again.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # X (Twitter) API
    x_bearer_token: SecretStr | None = None
    x_consumer_key: SecretStr | None = None
    x_consumer_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_read_budget: int = Field(
        500, ge=1, le=100_000, description="Most posts one collection run may read (X bills reads)."
    )
    x_cost_per_read_usd: float = Field(0.005, ge=0)
    x_cost_per_post_usd: float = Field(0.015, ge=0)

    # Text generation
    text_blocklist_words: str = Field(
        "", description="Comma-separated words no generated post may contain (case-insensitive)."
    )
    text_real_words: bool = Field(
        True, description="Write only words of the persona's tweets or of its language's word list."
    )
    text_candidates_chat: int = Field(
        16, ge=1, le=256, description="Candidates sampled for a chat reply (/tweet), best one kept."
    )
    text_candidates_post: int = Field(
        256, ge=1, le=1024, description="Candidates sampled for a scheduled campaign post."
    )

    # --- Discord adapter ---
    discord_token: SecretStr | None = Field(
        None, description="Bot token; with it set, `nowbot run` starts the Discord adapter."
    )
    discord_application_id: int | None = Field(
        None, description="Application id (read at login if unset)."
    )
    discord_admin_role_ids: IdList = Field(
        frozenset(), description="Roles allowed to run admin commands and press review buttons."
    )
    discord_admin_user_ids: IdList = Field(
        frozenset(), description="Users allowed to run admin commands and press review buttons."
    )
    discord_owner_ids: IdList = Field(
        frozenset(), description="Users allowed to sync commands (the application owner always is)."
    )
    discord_campaign_channel_id: int | None = Field(
        None, description="Discord channel the campaign also posts to."
    )
    discord_auto_shard: bool = Field(False, description="Use discord.py's AutoShardedClient.")
    discord_shard_count: int | None = Field(
        None, ge=1, description="Shards in all (every process the same); unset asks Discord."
    )
    discord_shards: ShardIds | None = Field(
        None, description="The shards this process runs, '0-3' or '0,2,5' (with "
        "NOWBOT_DISCORD_SHARD_COUNT); other processes run the rest.",
    )
    discord_identify_spacing_s: float = Field(
        5.0, ge=0, le=60, description="Seconds between two logins (IDENTIFY) of one bucket, "
        "across processes; Discord's rule is 5.",
    )
    discord_cooldown_seconds: float = Field(
        5.0, ge=0, le=3600, description="Per-user command cooldown; 0 turns it off."
    )
    # --- end of Discord settings ---

    # --- Service: scheduler, campaign outbox, publishing, dashboard ---
    campaign_persona: str = Field("siggraph", description="Persona whose voice campaign posts use.")
    campaign_hashtag: str = Field("#siggraphNOW", description="Appended to every campaign post.")
    campaign_image_set: str | None = Field(
        None, description="Image set whose GAN illustrates posts; default the built-in set."
    )
    campaign_cron: str = Field(
        "*/10 * * * *",
        description="Cron expressions (5 fields, ';'-separated) when campaign posts are prepared.",
    )
    review_mode: bool = Field(
        True, description="Posts wait for a person's approval (the dashboard, `nowbot queue "
        "approve`, Discord's buttons); false publishes them as soon as they are prepared.",
    )
    review_weight: float = Field(
        10.0, ge=0, le=100, description="How much the campaign's review model (learned from "
        "the reviewers' decisions) weighs when choosing a post's text, against fluency and "
        "voice (each weighs about 1); 0 turns the loop off.",
    )
    review_min_decisions: int = Field(
        20, ge=4, le=100_000,
        description="Judged drafts a campaign needs before its review model is trained.",
    )
    review_train_every_minutes: int = Field(
        30, ge=1, description="Interval between trainings of the campaign's review model."
    )
    review_texts_in_training: bool = Field(
        True, description="Approved and edited campaign posts join the persona's text at its "
        "next retraining (false: only its imported tweets).",
    )
    x_monthly_budget_usd: float = Field(
        5.0, ge=0, description="Most estimated X posting cost per calendar month; 0 stops posting."
    )
    mastodon_instance_url: str | None = Field(
        None, description="Address of the Mastodon server the campaign account is on (https://...)."
    )
    mastodon_access_token: SecretStr | None = Field(
        None, description="Access token of the campaign's Mastodon account (scope write:statuses "
        "write:media read:accounts read:statuses)."
    )
    bluesky_handle: str | None = Field(None, description="Handle of the campaign's Bluesky account.")
    bluesky_app_password: SecretStr | None = Field(
        None, description="An app password of that Bluesky account (Settings > App passwords)."
    )
    bluesky_service_url: str = Field(
        "https://bsky.social", description="The Bluesky (PDS) service to log in to."
    )
    outbox_interval_seconds: int = Field(
        60, ge=5, le=3600, description="How often approved posts are published and unknowns reconciled."
    )
    publish_deadline_seconds: int = Field(
        60, ge=5, le=600,
        description="The longest one delivery to a platform may take, its retries included.",
    )
    train_text_minutes: float = Field(2.0, gt=0, le=600, description="Length of one text training run.")
    train_text_every_minutes: int = Field(360, ge=1, description="Interval between text retrainings.")
    train_gan_minutes: float = Field(2.0, gt=0, le=600, description="Length of one GAN training batch.")
    train_gan_every_minutes: int = Field(120, ge=1, description="Interval between GAN training batches.")
    train_niceness: int = Field(
        10, ge=0, le=19,
        description="CPU priority of training child processes (`nice -n`, their session's too; "
                    "0: as the service).",
    )
    train_threads: int = Field(
        0, ge=0, le=256,
        description="TensorFlow threads of a training child; 0: every core but one, for the bot.",
    )
    collect_query: str | None = Field(
        None, description="X search query collected for the campaign persona (needs X read access)."
    )
    collect_every_minutes: int = Field(720, ge=15, description="Interval between X collections.")
    misfire_grace_seconds: int = Field(
        3600, ge=1, description="A job whose time passed while the bot was down still runs this late."
    )
    exit_when_sick: bool = Field(
        False, description="A leader whose scheduler is sick (its thread died, a job overdue) "
        "exits with status 1, for a supervisor to restart it, instead of staying up unhealthy.",
    )
    dashboard_host: str = Field(
        "127.0.0.1", description="Dashboard address; anything but the loopback needs a password."
    )
    dashboard_port: int = Field(8350, ge=0, le=65535, description="Dashboard port; 0 picks a free one.")
    dashboard_password: SecretStr | None = Field(
        None, description="Dashboard login password; required unless it listens on the loopback."
    )
    dashboard_allowed_hosts: str = Field(
        "", description="Comma-separated extra `Host` values (`name` or `name:port`) the dashboard "
        "answers to, for a reverse proxy.",
    )
    dashboard_behind_proxy: bool = Field(
        False, description="Only a reverse proxy reaches the dashboard: trust its X-Forwarded-For "
        "(login limits per client) and X-Forwarded-Proto (https: the session cookie is Secure).",
    )
    # --- end of service settings ---

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("artifact_store")
    @classmethod
    def _store_location(cls, value: str) -> str:
        parse_location(value)
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[\w.-]+(:\d{1,5})?/?", value):
            raise ValueError(f"must be an http(s)://host:port URL, not '{value[:60]}'")
        return value

    @model_validator(mode="after")
    def _queue_on_postgresql(self) -> Settings:
        if self.job_queue == "postgresql" and not (self.database_url or "").startswith(
                "postgresql"):
            raise ValueError("NOWBOT_JOB_QUEUE=postgresql needs NOWBOT_DATABASE_URL to be a "
                             "PostgreSQL URL (postgresql+psycopg://...)")
        return self

    @field_validator("discord_admin_role_ids", "discord_admin_user_ids", "discord_owner_ids",
                     mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.isdigit()]
            if bad:
                raise ValueError(f"must be comma-separated numeric ids, not '{bad[0][:30]}'")
            return frozenset(int(part) for part in parts)
        return value

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _shard_ids(cls, value: object) -> object:
        return parse_shards(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shards_counted(self) -> Settings:
        if self.discord_shards is not None:
            check_shards(self.discord_shards, self.discord_shard_count)
        return self

    @field_validator("dashboard_password")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    @field_validator("dashboard_allowed_hosts")
    @classmethod
    def _host_values(cls, value: str) -> str:
        for name in filter(None, (part.strip() for part in value.split(","))):
            # a name or IPv4 address, or an IPv6 one in brackets; then maybe a port
            if not re.fullmatch(r"([\w-]+(\.[\w-]+)*|\[[0-9a-fA-F:.]+\])(:\d{1,5})?", name):
                raise ValueError(f"must be Host values like proxy.example.org:8443, not '{name[:40]}'")
        return value

    @field_validator("campaign_cron")
    @classmethod
    def _cron_expressions(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        for expression in filter(None, (part.strip() for part in value.split(";"))):
            try:
                CronTrigger.from_crontab(expression)
            except ValueError as error:
                raise ValueError(f"bad cron expression '{expression}': {error}") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, _NowbotLines(settings_cls, dotenv_settings)]
        toml_path = os.environ.get("NOWBOT_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'nowbot.db'}"

    @property
    def resolved_artifacts_dir(self) -> Path:
        """Where model versions and generated files are kept."""
        return self.artifacts_dir or self.data_dir / "artifacts"

    @property
    def x_post_configured(self) -> bool:
        """True when all four X user credentials are set (needed for posting)."""
        return None not in (
            self.x_consumer_key, self.x_consumer_secret, self.x_access_token,
            self.x_access_token_secret,
        )

    @property
    def mastodon_configured(self) -> bool:
        """True when the Mastodon instance and access token are set."""
        return self.mastodon_instance_url is not None and self.mastodon_access_token is not None

    @property
    def bluesky_configured(self) -> bool:
        """True when the Bluesky handle and app password are set."""
        return self.bluesky_handle is not None and self.bluesky_app_password is not None

    @property
    def campaign_crons(self) -> list[str]:
        """The campaign's cron expressions, one per schedule."""
        return [part.strip() for part in self.campaign_cron.split(";") if part.strip()]

    @property
    def reviewing(self) -> bool:
        """Whether new posts wait for a person's approval."""
        return self.review_mode

    @property
    def training_threads(self) -> int:
        """TensorFlow threads a training child may use (`train_threads`, or cores minus one)."""
        return self.train_threads or max(1, (os.cpu_count() or 2) - 1)

    @property
    def text_blocklist(self) -> tuple[str, ...]:
        """The blocked words, stripped, without empties."""
        return tuple(word.strip() for word in self.text_blocklist_words.split(",") if word.strip())

    @property
    def dashboard_hosts(self) -> frozenset[str]:
        """The extra `Host` values the dashboard answers to, in lower case."""
        return frozenset(part.strip().lower() for part in self.dashboard_allowed_hosts.split(",")
                         if part.strip())

    @property
    def x_read_configured(self) -> bool:
        """True when an X bearer token is set (needed for collection)."""
        return self.x_bearer_token is not None


def parse_shards(text: str) -> tuple[int, ...] | None:
    """Shard ids from `0-3`, `0,2,5` or a mix (`0-1,4`), sorted; None for an empty text."""
    ids: set[int] = set()
    for part in filter(None, (part.strip() for part in text.split(","))):
        bounds = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if bounds is None or int(bounds[2] or bounds[1]) < int(bounds[1]):
            raise ValueError(f"shards must be ids like 0-3 or 0,2,5, not '{part[:30]}'")
        ids.update(range(int(bounds[1]), int(bounds[2] or bounds[1]) + 1))
    return tuple(sorted(ids)) or None


def check_shards(shards: tuple[int, ...], count: int | None) -> None:
    """Raise `ValueError` unless every shard id is below `count` (which must be set)."""
    if count is None:
        raise ValueError("shards need the shard count (NOWBOT_DISCORD_SHARD_COUNT, "
                         "--shard-count), the same in every process")
    outside = [shard for shard in shards if shard >= count]
    if outside:
        raise ValueError(f"shard {outside[0]} does not exist: the ids of {count} shards are "
                         f"0-{count - 1}")


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["loc"]:
            message = "NOWBOT_" + "_".join(str(part) for part in item["loc"]).upper() + ": " + message
        lines.append(message)
    return "invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise `ConfigError` naming every bad setting."""
    toml_path = os.environ.get("NOWBOT_CONFIG")
    if toml_path and not Path(toml_path).is_file():
        raise ConfigError(f"invalid configuration: NOWBOT_CONFIG: no such file {toml_path}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
