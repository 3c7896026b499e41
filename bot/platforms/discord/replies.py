"""Sending neutral replies to Discord, and the one place errors become short user messages."""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands

from bot.commands import Reply
from bot.errors import USER_ERRORS
from bot.platforms.discord.text import MESSAGE_CHARS, defuse

log = logging.getLogger("nowbot.discord")


def reply_files(reply: Reply) -> list[discord.File]:
    return [discord.File(io.BytesIO(a.data), filename=a.filename) for a in reply.attachments]


async def send_followup(
    interaction: discord.Interaction, reply: Reply, view: discord.ui.View | None = None
) -> None:
    """Answer a deferred interaction with `reply` (files attached), pinging no one."""
    kwargs = {"view": view} if view is not None else {}
    await interaction.followup.send(
        defuse(reply.text)[:MESSAGE_CHARS], files=reply_files(reply), ephemeral=reply.ephemeral,
        allowed_mentions=discord.AllowedMentions.none(), **kwargs
    )


def describe(error: BaseException) -> str:
    """A short message for the user; unexpected errors are logged with their traceback."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: you can use this again in {error.retry_after:.1f}s."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    if isinstance(error, USER_ERRORS):
        return str(error)
    if isinstance(error, app_commands.AppCommandError):
        return "That command is out of date here: ask an owner to sync commands."
    log.error("unexpected error in a Discord interaction", exc_info=error)
    return "Something went wrong on our side; it has been logged."


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the user what went wrong, visible only to them.

    A deferred "thinking" response is deleted first so that the error arrives as its own
    ephemeral message instead of filling the public placeholder.
    """
    message = describe(error)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about an error: %s", message)
