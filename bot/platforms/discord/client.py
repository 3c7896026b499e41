"""The Discord client: slash commands, review buttons, and the campaign channel publisher.

Commands are synced to Discord only on an owner's request (`nowbot discord sync` or `/sync`),
never at start. The models are the runtime's (`runtime.chat`, `bot.chat.models`); quick
database work runs in a small thread pool of the client's own, so the event loop always answers
within Discord's 3 seconds. A sharded client may run a subset of the shards
(`NOWBOT_DISCORD_SHARDS`), beside other processes that run the rest; their logins take turns
(`identify.py`).
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

from bot.chat.models import chat_models
from bot.core.runtime import ChatModels, Runtime
from bot.platforms.discord.commands import COMMANDS
from bot.platforms.discord.drawing import DRAW_COMMANDS
from bot.platforms.discord.identify import IdentifyGate
from bot.platforms.discord.publisher import DiscordPublisher
from bot.platforms.discord.replies import report_error
from bot.platforms.discord.review import ReviewButton

log = logging.getLogger("nowbot.discord")
T = TypeVar("T")
LOOKUP_THREADS = 4
MAX_BACKOFF_S = 600.0


class _Nowbot:
    """What both client classes add to discord.py's: the runtime, the tree and a lookup pool.
    Settings are the app's `NOWBOT_DISCORD_*` ones."""

    def __init__(self, runtime: Runtime, **options: Any) -> None:
        app = runtime.app
        intents = discord.Intents.none()
        intents.guilds = True  # guild roles, for role-based admin checks
        super().__init__(  # type: ignore[call-arg]
            intents=intents, application_id=app.settings.discord_application_id,
            allowed_mentions=discord.AllowedMentions.none(), **options,  # nothing ever pings
        )
        self.runtime, self.app = runtime, app
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)  # type: ignore[arg-type]
        self.tree.error(report_error)
        for command in (*COMMANDS, *DRAW_COMMANDS):
            self.tree.add_command(command)
        # Quick database work never queues behind model work, which is the models' own.
        self._lookups = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="nowbot-discord-db")

    @property
    def chat(self) -> ChatModels:
        """The runtime's models (`start_discord` provides them)."""
        if self.runtime.chat is None:
            raise RuntimeError("the runtime has no chat models")
        return self.runtime.chat

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReviewButton)  # type: ignore[attr-defined]

    async def run_blocking(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` in the client's lookup threads."""
        return await asyncio.get_running_loop().run_in_executor(
            self._lookups, partial(function, *args))

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
        self._lookups.shutdown(wait=False, cancel_futures=True)


class NowbotClient(_Nowbot, discord.Client):
    """One gateway connection: right for bots in fewer than about 2,500 guilds."""


class ShardedNowbotClient(_Nowbot, discord.AutoShardedClient):
    """Several shards in one process: all of them (`NOWBOT_DISCORD_AUTO_SHARD=true`) or the
    subset `NOWBOT_DISCORD_SHARDS`, whose logins take turns with other processes'."""

    def __init__(self, runtime: Runtime, **options: Any) -> None:
        super().__init__(runtime, **options)
        settings = runtime.app.settings
        self._gate = IdentifyGate(runtime.app.engine, settings.discord_identify_spacing_s)
        self._max_concurrency: int | None = None

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's bucket's turn, whichever process holds the other shards."""
        if self._max_concurrency is None:
            try:
                self._max_concurrency = (await self.fetch_session_start_limits()).max_concurrency
            except discord.DiscordException as error:
                log.warning("session start limits unknown (%s): one login at a time", error)
                self._max_concurrency = 1
        await self._gate.wait_turn((shard_id or 0) % max(1, self._max_concurrency))

    async def close(self) -> None:
        await super().close()
        await self._gate.close()


def build_client(runtime: Runtime, **options: Any) -> NowbotClient:
    """The configured client class for `runtime`; `options` go to discord.py (tests shorten
    its timeouts)."""
    settings = runtime.app.settings
    shards = settings.discord_shards
    if shards is not None or settings.discord_auto_shard:
        return ShardedNowbotClient(  # type: ignore[return-value]
            runtime, shard_ids=list(shards) if shards else None,
            shard_count=settings.discord_shard_count, **options)
    return NowbotClient(runtime, **options)


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
    own_models = runtime.chat is None
    if own_models:
        runtime.chat = chat_models(runtime.app)
    try:
        await _run(runtime, backoff_s, **options)
    finally:
        if own_models and runtime.chat is not None:
            await runtime.chat.close()
            runtime.chat = None


async def _run(runtime: Runtime, backoff_s: float, **options: Any) -> None:
    """Run clients until one is closed on purpose, starting a failed one again."""
    settings = runtime.app.settings
    assert settings.discord_token is not None
    wait = backoff_s
    while True:
        client = build_client(runtime, **options)
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
