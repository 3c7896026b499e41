"""Settings of the Discord adapter: `NOWBOT_DISCORD_<NAME>` in the environment or `.env`.

Id lists are comma-separated (`NOWBOT_DISCORD_ADMIN_ROLE_IDS=123,456`). The token is the same
`NOWBOT_DISCORD_TOKEN` the service settings read.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.config import ConfigError

IdList = Annotated[frozenset[int], NoDecode]


class DiscordSettings(BaseSettings):
    """Who may do what on Discord, where the campaign posts, and how the client connects."""

    model_config = SettingsConfigDict(
        env_prefix="NOWBOT_DISCORD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = None
    application_id: int | None = Field(None, description="Application id (read at login if unset).")
    admin_role_ids: IdList = Field(frozenset(), description="Roles allowed to run admin commands.")
    admin_user_ids: IdList = Field(frozenset(), description="Users allowed to run admin commands.")
    owner_ids: IdList = Field(
        frozenset(), description="Users allowed to sync commands (the application owner always is)."
    )
    campaign_channel_id: int | None = Field(None, description="Channel the campaign posts to.")
    auto_shard: bool = Field(False, description="Use AutoShardedClient.")
    shard_count: int | None = Field(None, ge=1, description="Shards; unset asks Discord.")
    cooldown_seconds: float = Field(5.0, ge=0, le=3600, description="Per-user command cooldown.")

    @field_validator("admin_role_ids", "admin_user_ids", "owner_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @property
    def configured(self) -> bool:
        """True when a bot token is set, so `nowbot run` starts the adapter."""
        return self.token is not None


def load_discord_settings(**overrides: object) -> DiscordSettings:
    """Read and validate the Discord settings; raise `ConfigError` naming every bad one."""
    try:
        return DiscordSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        names = "; ".join(
            f"NOWBOT_DISCORD_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"invalid configuration: {names}") from None
