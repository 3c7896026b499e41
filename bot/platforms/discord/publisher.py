"""Campaign posts to a Discord channel (the outbox's `Publisher`): through the running client
(`DiscordPublisher`), or, in a process without the gateway connection, through a client of its
own logged in over REST alone (`RestDiscordPublisher`).

The outbox calls publishers from worker threads; each call is handed to the client's event loop
and waited for. Outcomes map onto the outbox's: refused requests are `Rejected`, rate limits and
connection failures before sending are `NotSent`, anything that may have gone through is
`OutcomeUnknown` (reconciled against the channel's recent messages). Each message carries a nonce
made from the delivery's key, which Discord enforces: the same delivery sent again within a few
minutes returns the first message instead of a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import discord

from bot.config import Settings
from bot.platforms.base import (NEVER, NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost,
                                collapsed, no_address, nothing_created)
from bot.platforms.discord import text as discord_text
from bot.platforms.transport import time_left
from storage.base import utcnow

T = TypeVar("T")
TIMEOUT_S = 30.0
HISTORY_SCAN = 1000  # channel messages read at most when looking for the bot's own
NONCE_CHARS = 25  # the longest nonce Discord takes


def nonce(item: Outgoing) -> str:
    """The message nonce of `item`'s delivery: the same on every attempt, never another's."""
    return hashlib.sha256(item.key.encode()).hexdigest()[:NONCE_CHARS]


def _wait(future: Future[T]) -> T:
    """`future`'s result within `TIMEOUT_S` and the current deadline; cancelled when late."""
    left = time_left()
    try:
        return future.result(TIMEOUT_S if left is None else max(0.0, min(TIMEOUT_S, left)))
    except TimeoutError:
        future.cancel()
        raise


class DiscordPublisher:
    """Posts campaign texts (and images) to one channel as the bot."""

    platform = "discord"
    cost_per_post_usd = 0.0
    monthly_budget_usd: float | None = None
    resend_safe_for = NEVER  # an unknown message is looked for in the channel's history
    fit_text = staticmethod(discord_text.fit_text)
    text_limit = discord_text.MESSAGE_CHARS
    text_length = staticmethod(len)
    normalized = staticmethod(collapsed)  # messages read back as they were sent
    post_url = staticmethod(no_address)  # a message link needs the server's id, not kept

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self.client = client
        self.channel_id = channel_id

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            loop = self._connected_loop()
        except BaseException:
            coroutine.close()
            raise
        return _wait(asyncio.run_coroutine_threadsafe(coroutine, loop))

    def _connected_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the client's requests run on, once it is connected (`NotSent` before)."""
        try:
            on_client_loop = asyncio.get_running_loop() is self.client.loop
        except RuntimeError:  # no loop in this thread: the normal case
            on_client_loop = False
        if on_client_loop:
            raise RuntimeError("DiscordPublisher blocks: call it from a worker thread")
        if not self.client.is_ready():
            raise NotSent("the Discord client is not connected")
        return self.client.loop

    def publish(self, item: Outgoing) -> str:
        """Send the post to the campaign channel (the image with its description); return the
        message id."""
        channel = self.client.get_partial_messageable(self.channel_id)
        file = discord.File(item.image, description=item.alt) if item.image is not None else None
        try:
            message = self._run(channel.send(
                discord_text.defuse(item.text), allowed_mentions=discord.AllowedMentions.none(),
                nonce=nonce(item), **({"file": file} if file else {}),
            ))
        except discord.RateLimited as error:
            raise NotSent("Discord rate limit", utcnow() + timedelta(seconds=error.retry_after))
        except discord.DiscordServerError as error:
            raise OutcomeUnknown(f"Discord server error {error.status}") from None
        except discord.HTTPException as error:
            raise Rejected(f"Discord refused the post: {error.status} {error.text}") from None
        except aiohttp.ClientConnectorError as error:
            raise NotSent(f"cannot reach Discord: {error}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise OutcomeUnknown(f"no answer from Discord: {error!r}") from None
        return str(message.id)

    def recent_posts(self, limit: int) -> list[RemotePost]:
        """The bot's `limit` newest messages in the channel, newest first (others' messages
        are skipped, not counted: at most `HISTORY_SCAN` messages are read)."""
        channel = self.client.get_partial_messageable(self.channel_id)

        async def read() -> list[RemotePost]:
            mine = []
            async for message in channel.history(limit=HISTORY_SCAN):
                if self.client.user is not None and message.author.id == self.client.user.id:
                    mine.append(RemotePost(str(message.id), message.content, message.created_at))
                    if len(mine) >= limit:
                        break
            return mine

        return self._run(read())


def _rest_client() -> discord.Client:
    """A client for REST requests alone: it never opens the gateway, so it needs no intents. A
    rate limit longer than a call may wait raises `RateLimited` (`NotSent`) instead of sleeping."""
    return discord.Client(intents=discord.Intents.none(), max_ratelimit_timeout=TIMEOUT_S,
                          allowed_mentions=discord.AllowedMentions.none())


class RestDiscordPublisher(DiscordPublisher):
    """The campaign channel publisher of a process without the gateway connection (a queue
    worker), usable from any plain thread: on first use its own client logs in over REST
    (`NOWBOT_DISCORD_TOKEN`) on an event loop in a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        if settings.discord_token is None or settings.discord_campaign_channel_id is None:
            raise ValueError("the Discord token and campaign channel are not configured")
        super().__init__(_rest_client(), settings.discord_campaign_channel_id)
        self._token = settings.discord_token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _connected_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                                name="nowbot-discord-rest")
                self._thread.start()
            if self.client.user is None:
                login = self.client.login(self._token.get_secret_value())
                with nothing_created("Discord", "logging in"):
                    try:
                        _wait(asyncio.run_coroutine_threadsafe(login, self._loop))
                    except discord.LoginFailure:
                        raise Rejected("Discord refused the bot token: check "
                                       "NOWBOT_DISCORD_TOKEN") from None
            return self._loop

    def close(self) -> None:
        """Close the client and stop its thread (a later call logs in again, with a new one)."""
        with self._lock:
            client, loop, thread = self.client, self._loop, self._thread
            self.client, self._loop, self._thread = _rest_client(), None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(client.close(), loop).result(TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT_S)
        loop.close()
