"""`/draw` and the message command "Draw this": a drawing (or photo) in, the drawing as the model
read it and the model's picture out, side by side. Uploads that are not images or too large are
refused privately before they are read; the rest defers, draws off the event loop and follows up."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bot.core.drawing import DrawingRefused, check_upload
from bot.platforms.discord.checks import per_user_cooldown
from bot.platforms.discord.commands import image_set_choices
from bot.platforms.discord.interaction import client_of
from bot.platforms.discord.replies import send_followup


async def _draw(interaction: discord.Interaction, upload: discord.Attachment, image_set: str | None,
                mode: str) -> None:
    check_upload(upload.content_type, upload.size)  # before deferring: the refusal stays private
    await interaction.response.defer(thinking=True)
    data = await upload.read()
    reply = await client_of(interaction).chat.reply("draw", image_set, data, mode)
    await send_followup(interaction, reply)


@app_commands.command(name="draw")
@app_commands.describe(set="Image set whose draw model draws", drawing="Your drawing or a photo (an image file)",
                       mode="sketch: pen lines; labels: regions painted in the palette's colours")
@app_commands.autocomplete(set=image_set_choices)
@per_user_cooldown()
async def draw(
    interaction: discord.Interaction, set: str, drawing: discord.Attachment,  # noqa: A002
    mode: Literal["sketch", "labels"] = "sketch",
) -> None:
    """Turn a drawing into a picture in an image set's look."""
    await _draw(interaction, drawing, set, mode)


@app_commands.context_menu(name="Draw this")
@per_user_cooldown()
async def draw_this(interaction: discord.Interaction, message: discord.Message) -> None:
    """Draw the first image of a message with the first set that has a draw model."""
    upload = next((a for a in message.attachments if (a.content_type or "").startswith("image/")), None)
    if upload is None:
        raise DrawingRefused("that message has no image to draw from")
    await _draw(interaction, upload, None, "sketch")


DRAW_COMMANDS = (draw, draw_this)
