"""`nowbot discord ...`: publish slash commands (an explicit owner action) and run the adapter alone."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.common import cli_app, console, err_console

group = typer.Typer(help="The Discord adapter: command sync and running it alone.",
                    no_args_is_help=True)


def _settings():  # type: ignore[no-untyped-def]
    from bot.adapters.discord_settings import load_discord_settings
    from bot.config import ConfigError

    try:
        settings = load_discord_settings()
    except ConfigError as error:
        err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if settings.token is None:
        err_console.print("[red]error:[/red] NOWBOT_DISCORD_TOKEN is not set")
        raise typer.Exit(1)
    return settings


@group.command("sync")
def sync_command(
    guild: int | None = typer.Option(
        None, "--guild", help="Sync to this guild only (instant); default: globally (slow to spread)."
    ),
) -> None:
    """Publish the bot's slash commands to Discord (rate-limited by Discord: run it when they change)."""
    from bot.adapters.discord_bot import build_client

    settings = _settings()

    async def sync() -> list[str]:
        async with build_client(app, settings) as client:
            await client.login(settings.token.get_secret_value())
            return await client.sync_commands(guild)

    with cli_app() as app:
        names = asyncio.run(sync())
    where = f"guild {guild}" if guild else "all guilds"
    console.print(f"synced {len(names)} commands to {where}: {', '.join(sorted(names))}")


@group.command("run")
def run_command() -> None:
    """Run only the Discord adapter (no scheduler, no dashboard) until interrupted."""
    from bot.adapters.discord_bot import start_discord

    settings = _settings()
    with cli_app() as app:
        console.print("Discord adapter running; Ctrl+C stops it")
        try:
            asyncio.run(start_discord(app, settings=settings))
        except KeyboardInterrupt:
            console.print("stopped")
