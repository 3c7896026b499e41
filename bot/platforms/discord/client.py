"""The Discord client: slash commands, review buttons, and the campaign channel publisher.

Commands are synced to Discord only on an owner's request (`nowbot discord sync` or `/sync`),
never at start. Blocking work (database, models) runs in a small thread pool of the client's own,
so the event loop always answers within Discord's 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands

from bot.app import App
from bot.chat.engine import GenerationEngine
from bot.chat.tweets import TweetSupply
from bot.core.runtime import Runtime
from bot.platforms.discord.commands import COMMANDS
from bot.platforms.discord.drawing import DRAW_COMMANDS
from bot.platforms.discord.publisher import DiscordPublisher
from bot.platforms.discord.replies import report_error
from bot.platforms.discord.review import ReviewButton

log = logging.getLogger("nowbot.discord")
T = TypeVar("T")
LOOKUP_THREADS = 4
MAX_BACKOFF_S = 600.0
MODEL_THREADS = 2


class _Nowbot:
    """What both client classes add to discord.py's: the app, tree and worker pools.
    Settings are the app's `NOWBOT_DISCORD_*` ones."""

    def __init__(self, app: App, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # guild roles, for role-based admin checks
        super().__init__(  # type: ignore[call-arg]
            intents=intents, application_id=app.settings.discord_application_id,
            allowed_mentions=discord.AllowedMentions.none(), **options,  # nothing ever pings
        )
        self.app = app
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)  # type: ignore[arg-type]
        self.tree.error(report_error)
        for command in (*COMMANDS, *DRAW_COMMANDS):
            self.tree.add_command(command)
        # Quick database work never queues behind model work: each has its own threads.
        self._lookups = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="nowbot-discord-db")
        self._models = ThreadPoolExecutor(MODEL_THREADS, thread_name_prefix="nowbot-discord-model")
        self.engine = GenerationEngine(app)  # every waiting tweet request in one batch
        self.tweets = TweetSupply(self.engine.tweets)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReviewButton)  # type: ignore[attr-defined]

    async def run_blocking(self, function: Callable[..., T], *args: Any, model: bool = False) -> T:
        """Run `function(*args)` in the client's threads: the model threads when it generates."""
        pool = self._models if model else self._lookups
        return await asyncio.get_running_loop().run_in_executor(pool, partial(function, *args))

    async def sync_commands(self, guild_id: int | None = None) -> list[str]:
        """Publish the command tree to one guild (instant) or globally; returns the names."""
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info("synced %d commands to %s", len(synced), guild_id or "all guilds")
        return [command.name for command in synced]

    async def close(self) -> None:
        await super().close()  # type: ignore[misc]
        await asyncio.to_thread(self.engine.close)
        for pool in (self._lookups, self._models):
            pool.shutdown(wait=False, cancel_futures=True)


class NowbotClient(_Nowbot, discord.Client):
    """One gateway connection: right for bots in fewer than about 2,500 guilds."""


class ShardedNowbotClient(_Nowbot, discord.AutoShardedClient):
    """Several shards in one process (`NOWBOT_DISCORD_AUTO_SHARD=true`)."""


def build_client(app: App, **options: Any) -> NowbotClient:
    """The configured client class; `options` go to discord.py (tests shorten its timeouts)."""
    settings = app.settings
    if settings.discord_auto_shard:
        return ShardedNowbotClient(  # type: ignore[return-value]
            app, shard_count=settings.discord_shard_count, **options)
    return NowbotClient(app, **options)


async def start_discord(runtime: Runtime, *, backoff_s: float = 5.0, **options: Any) -> None:
    """Run the Discord adapter until cancelled; return at once when no token is configured.

    With `NOWBOT_DISCORD_CAMPAIGN_CHANNEL_ID` set, a `DiscordPublisher` publishes the runtime's
    campaign posts while the client runs. A client that stops with an error is logged and
    started again after a wait that doubles up to `MAX_BACKOFF_S` (the publisher is away
    meanwhile, so posts wait in the outbox).
    """
    settings = runtime.app.settings
    if settings.discord_token is None:
        log.info("Discord adapter off: NOWBOT_DISCORD_TOKEN is not set")
        return
    wait = backoff_s
    while True:
        client = build_client(runtime.app, **options)
        channel_id = settings.discord_campaign_channel_id
        if channel_id:
            runtime.add_publisher(DiscordPublisher(client, channel_id))
        try:
            async with client:
                await client.start(settings.discord_token.get_secret_value())
            return  # closed on purpose
        except (discord.DiscordException, aiohttp.ClientError, OSError) as error:
            log.error("Discord adapter stopped (%s: %s); starting again in %.0f s",
                      type(error).__name__, error, wait)
        finally:
            runtime.remove_publisher(DiscordPublisher.platform)
        await asyncio.sleep(wait)
        wait = min(wait * 2, MAX_BACKOFF_S)
