"""The slash commands: each defers at once, runs the shared command off the event loop (the
models' commands through the runtime's models), and answers with a follow-up. Errors go to the
tree's error handler (`replies.report_error`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import discord
from discord import app_commands
from discord.app_commands import Choice, Range

from bot import commands
from bot.core.runtime import ModelCommand
from bot.platforms.discord.checks import admin_only, owner_only, per_user_cooldown
from bot.platforms.discord.interaction import client_of
from bot.platforms.discord.replies import send_followup
from bot.platforms.discord.review import review_view
from bot.platforms.discord.text import QUEUE_PAGE, SUGGESTIONS, defuse


async def answer(
    interaction: discord.Interaction, command: Callable[..., commands.Reply], *args: Any,
    ephemeral: bool = False,
) -> None:
    """Defer (the 3-second rule), run `command(app, *args)` in a lookup thread, then follow up."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    client = client_of(interaction)
    reply = await client.run_blocking(command, client.app, *args)
    view = review_view(reply.review_post_ids) if reply.review_post_ids else None
    await send_followup(interaction, reply, view)


async def answer_from_models(
    interaction: discord.Interaction, command: ModelCommand, *args: object
) -> None:
    """Like `answer`, with the reply made by the models (`bot.commands.<command>`)."""
    await interaction.response.defer(thinking=True)
    reply = await client_of(interaction).chat.reply(command, *args)
    await send_followup(interaction, reply)


async def answer_tweet(
    interaction: discord.Interaction, check: Callable[..., commands.TweetRequest], *args: Any
) -> None:
    """Check the request in a lookup thread, then follow up with the models' tweet."""
    await interaction.response.defer(thinking=True)
    client = client_of(interaction)
    request = await client.run_blocking(check, client.app, *args)
    generated = await client.chat.tweet(request)
    voices = f"{request.persona} × {request.blend_with}" if request.blend_with else request.persona
    await send_followup(interaction, commands.Reply(f"**{voices}**: {generated.text}"))


async def _choices(interaction: discord.Interaction, lookup: Callable[..., list[str]],
                   current: str) -> list[Choice[str]]:
    client = client_of(interaction)
    names = await client.run_blocking(lookup, client.app, current, SUGGESTIONS)
    return [Choice(name=name, value=name) for name in names]


async def persona_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _choices(interaction, commands.personas, current)


async def image_set_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _choices(interaction, commands.image_sets, current)


@app_commands.command(name="tweet")
@app_commands.describe(
    persona="Whose voice (default: the first persona)", prompt="How the tweet starts",
    temperature="Higher is wilder (0.1-2.0)",
)
@app_commands.autocomplete(persona=persona_choices)
@per_user_cooldown()
async def tweet(
    interaction: discord.Interaction, persona: str | None = None,
    prompt: Range[str, 0, commands.PROMPT_CHARS] = "",
    temperature: Range[float, commands.TEMPERATURE[0], commands.TEMPERATURE[1]] = 0.8,
) -> None:
    """Write a new tweet in a persona's voice."""
    await answer_tweet(interaction, commands.tweet_request, persona, defuse(prompt), temperature)


@app_commands.command(name="mashup")
@app_commands.describe(persona_a="First voice", persona_b="Second voice")
@app_commands.autocomplete(persona_a=persona_choices, persona_b=persona_choices)
@per_user_cooldown()
async def mashup(interaction: discord.Interaction, persona_a: str, persona_b: str) -> None:
    """Write a tweet that blends two personas' voices."""
    await answer_tweet(interaction, commands.mashup_request, persona_a, persona_b)


@app_commands.command(name="image")
@app_commands.describe(set="Image set (default: the first one)", count="How many images (1-64)")
@app_commands.autocomplete(set=image_set_choices)
@per_user_cooldown()
async def image(
    interaction: discord.Interaction, set: str | None = None,  # noqa: A002  (the option's name)
    count: Range[int, commands.IMAGE_COUNT[0], commands.IMAGE_COUNT[1]] = 16,
) -> None:
    """Draw a grid of new images with an image set's GAN."""
    await answer_from_models(interaction, "image", set, count)


@app_commands.command(name="progress")
@app_commands.describe(set="Image set (default: the first one)")
@app_commands.autocomplete(set=image_set_choices)
@per_user_cooldown()
async def progress(interaction: discord.Interaction, set: str | None = None) -> None:  # noqa: A002
    """Show how an image set's GAN learned to draw, as an animated GIF."""
    await answer_from_models(interaction, "progress", set)


@app_commands.command(name="status")
async def status(interaction: discord.Interaction) -> None:
    """Show the serving models, their metrics and the next scheduled posts."""
    await answer(interaction, commands.status, ephemeral=True)


@app_commands.command(name="queue")
@admin_only()
async def queue(interaction: discord.Interaction) -> None:
    """List campaign posts waiting for review, with buttons to approve, reject or regenerate."""
    await answer(interaction, commands.queue, QUEUE_PAGE, ephemeral=True)


async def train_target_choices(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    lookup = commands.image_sets if interaction.namespace.kind == "gan" else commands.personas
    return await _choices(interaction, lookup, current)


@app_commands.command(name="train")
@app_commands.describe(kind="Text model or image GAN", target="Persona or image set to train on")
@app_commands.autocomplete(target=train_target_choices)
@admin_only()
async def train(
    interaction: discord.Interaction, kind: Literal["text", "gan"], target: str
) -> None:
    """Ask the trainer for a new training run (admins only)."""
    await answer(interaction, commands.train, kind, target, str(interaction.user), ephemeral=True)


@app_commands.command(name="schedule")
@admin_only()
async def schedule(interaction: discord.Interaction) -> None:
    """Show the campaign's posting schedule (admins only)."""
    await answer(interaction, commands.schedule, ephemeral=True)


@app_commands.command(name="sync")
@app_commands.describe(guild_id="Sync to this guild only (instant); default: globally")
@owner_only()
async def sync(interaction: discord.Interaction, guild_id: str | None = None) -> None:
    """Publish the bot's slash commands to Discord (owners only)."""
    if guild_id is not None and not guild_id.isdigit():
        raise commands.CommandError(f"guild_id must be a number, not '{guild_id[:30]}'")
    await interaction.response.defer(thinking=True, ephemeral=True)
    names = await client_of(interaction).sync_commands(int(guild_id) if guild_id else None)
    where = f"guild {guild_id}" if guild_id else "all guilds"
    await interaction.followup.send(f"Synced {len(names)} commands to {where}.", ephemeral=True)


COMMANDS = (tweet, mashup, image, progress, status, queue, train, schedule, sync)
