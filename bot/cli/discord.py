"""`nowbot discord ...`: publish slash commands (an explicit owner action) and run the adapter alone."""

from __future__ import annotations

import asyncio

from typing import TYPE_CHECKING

import typer

from bot.cli.common import cli_app, console, fail
from bot.cli.groups import discord as group

if TYPE_CHECKING:
    from bot.app import App


def _token(app: App) -> str:
    """The bot token, or a one-line exit when it is not configured."""
    if app.settings.discord_token is None:
        fail("NOWBOT_DISCORD_TOKEN is not set")
    return app.settings.discord_token.get_secret_value()


@group.command("sync")
def sync_command(
    guild: int | None = typer.Option(
        None, "--guild", help="Sync to this guild only (instant); default: globally (slow to spread)."
    ),
) -> None:
    """Publish the bot's slash commands to Discord (rate-limited by Discord: run it when they change)."""
    import aiohttp
    import discord as discord_py

    from bot.platforms.discord.client import build_client

    async def sync(app: App, token: str) -> list[str]:
        async with build_client(app) as client:
            await client.login(token)
            return await client.sync_commands(guild)

    with cli_app() as app:
        try:
            names = asyncio.run(sync(app, _token(app)))
        except (discord_py.DiscordException, aiohttp.ClientError, OSError) as error:
            fail(f"cannot sync with Discord: {error}")
    where = f"guild {guild}" if guild else "all guilds"
    console.print(f"synced {len(names)} commands to {where}: {', '.join(sorted(names))}")


@group.command("run")
def run_command() -> None:
    """Run only the Discord adapter (no scheduler, no dashboard) until interrupted."""
    from bot import generation
    from bot.core.runtime import Runtime
    from bot.platforms.discord.client import start_discord

    with cli_app() as app:
        _token(app)
        console.print("Discord adapter running; Ctrl+C stops it")
        try:
            asyncio.run(start_discord(Runtime(app, generation, {})))
        except KeyboardInterrupt:
            console.print("stopped")
