"""Campaign posts to a Discord channel, through the running client (the outbox's `Publisher`).

The outbox calls publishers from worker threads; each call is handed to the client's event loop
and waited for. Outcomes map onto the outbox's: refused requests are `Rejected`, rate limits and
connection failures before sending are `NotSent`, anything that may have gone through is
`OutcomeUnknown` (reconciled against the channel's recent messages).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import discord

from bot.platforms.base import (NEVER, NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost,
                                collapsed, no_address)
from bot.platforms.discord import text as discord_text
from bot.platforms.transport import time_left
from storage.base import utcnow

T = TypeVar("T")
TIMEOUT_S = 30.0
HISTORY_SCAN = 1000  # channel messages read at most when looking for the bot's own


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
    post_url = staticmethod(no_address)  # a message link needs the server's id, not kept with the post

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self.client = client
        self.channel_id = channel_id

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            on_client_loop = asyncio.get_running_loop() is self.client.loop
        except RuntimeError:  # no loop in this thread: the normal case
            on_client_loop = False
        if on_client_loop:
            coroutine.close()
            raise RuntimeError("DiscordPublisher blocks: call it from a worker thread")
        if not self.client.is_ready():
            coroutine.close()
            raise NotSent("the Discord client is not connected")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.client.loop)
        left = time_left()
        try:
            return future.result(TIMEOUT_S if left is None else max(0.0, min(TIMEOUT_S, left)))
        except TimeoutError:
            future.cancel()
            raise

    def publish(self, item: Outgoing) -> str:
        """Send the post to the campaign channel (the image with its description); return the
        message id."""
        channel = self.client.get_partial_messageable(self.channel_id)
        file = discord.File(item.image, description=item.alt) if item.image is not None else None
        try:
            message = self._run(channel.send(
                discord_text.defuse(item.text), allowed_mentions=discord.AllowedMentions.none(),
                **({"file": file} if file else {}),
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
