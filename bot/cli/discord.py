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

    from bot import generation
    from bot.core.runtime import Runtime
    from bot.platforms.discord.client import build_client

    async def sync(app: App, token: str) -> list[str]:
        async with build_client(Runtime(app, generation, {})) as client:
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
def run_command(
    shards: str | None = typer.Option(
        None, "--shards", help="Run only these shards ('0-3' or '0,2,5'); other processes, on "
        "any machine, run the rest. Default: NOWBOT_DISCORD_SHARDS, else one connection."),
    shard_count: int | None = typer.Option(
        None, "--shard-count", min=1,
        help="Shards in all, the same in every process. Default: NOWBOT_DISCORD_SHARD_COUNT."),
) -> None:
    """Run only the Discord adapter (no scheduler, no dashboard) until interrupted."""
    from bot import generation
    from bot.app import App
    from bot.config import check_shards, parse_shards
    from bot.core.runtime import Runtime
    from bot.platforms.discord.client import start_discord

    with cli_app() as app:
        _token(app)
        settings = app.settings
        try:
            ids = parse_shards(shards) if shards is not None else settings.discord_shards
            count = shard_count or settings.discord_shard_count
            if ids is not None:
                check_shards(ids, count)
        except ValueError as error:
            fail(f"--shards: {error}")
        settings = settings.model_copy(update={"discord_shards": ids, "discord_shard_count": count})
        which = f" (shards {','.join(map(str, ids))} of {count})" if ids else ""
        console.print(f"Discord adapter running{which}; Ctrl+C stops it")
        try:
            asyncio.run(start_discord(Runtime(App(settings, app.engine, app.sessions),
                                              generation, {})))
        except KeyboardInterrupt:
            console.print("stopped")
