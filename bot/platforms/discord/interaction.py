"""What interaction handlers (slash commands, checks, review buttons) use of the nowbot client:
typed here, so that they need not import `client.py`, which registers them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import discord

from bot.app import App
from bot.core.runtime import ChatModels

T = TypeVar("T")


class BotClient(Protocol):
    """The parts of `client.NowbotClient` (and its sharded twin) that handlers use."""

    app: App

    @property
    def chat(self) -> ChatModels: ...

    @property
    def application(self) -> discord.AppInfo | None: ...

    async def run_blocking(self, function: Callable[..., T], *args: Any) -> T: ...

    async def sync_commands(self, guild_id: int | None = None) -> list[str]: ...


def client_of(interaction: discord.Interaction) -> BotClient:
    """The nowbot client that received `interaction`."""
    return cast(BotClient, interaction.client)
