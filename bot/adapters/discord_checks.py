"""Who may run what on Discord: the predicates behind the checks declared on commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.adapters.discord_bot import NowbotClient


class NotAdmin(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only bot admins can do that.")


class NotOwner(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only the bot's owners can do that.")


def _client(interaction: discord.Interaction) -> NowbotClient:
    return interaction.client  # type: ignore[return-value]


def is_owner_user(interaction: discord.Interaction) -> bool:
    """The user is a configured owner or the application's owner."""
    client = _client(interaction)
    owners = set(client.app.settings.discord_owner_ids)
    if client.application is not None:
        owners.add(client.application.owner.id)
    return interaction.user.id in owners


def is_admin_user(interaction: discord.Interaction) -> bool:
    """The user is an owner, a configured admin, or holds a configured admin role."""
    settings = _client(interaction).app.settings
    if interaction.user.id in settings.discord_admin_user_ids or is_owner_user(interaction):
        return True
    roles = getattr(interaction.user, "roles", [])
    return any(role.id in settings.discord_admin_role_ids for role in roles)


async def _require_admin(interaction: discord.Interaction) -> bool:
    if not is_admin_user(interaction):
        raise NotAdmin()
    return True


async def _require_owner(interaction: discord.Interaction) -> bool:
    if not is_owner_user(interaction):
        raise NotOwner()
    return True


def admin_only():  # type: ignore[no-untyped-def]
    """Check: only admins (by user id or role id from settings) and owners."""
    return app_commands.check(_require_admin)


def owner_only():  # type: ignore[no-untyped-def]
    """Check: only owners (settings or the application owner)."""
    return app_commands.check(_require_owner)


def per_user_cooldown():  # type: ignore[no-untyped-def]
    """Check: one use per user every `NOWBOT_DISCORD_COOLDOWN_SECONDS` (0 turns it off)."""

    def factory(interaction: discord.Interaction) -> app_commands.Cooldown | None:
        seconds = _client(interaction).app.settings.discord_cooldown_seconds
        return app_commands.Cooldown(1, seconds) if seconds > 0 else None

    return app_commands.checks.dynamic_cooldown(factory)
