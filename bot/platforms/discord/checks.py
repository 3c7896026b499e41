"""Who may run what on Discord: the predicates behind the checks declared on commands."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.platforms.discord.interaction import client_of


class NotAdmin(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only bot admins can do that.")


class NotOwner(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only the bot's owners can do that.")


def is_owner_user(interaction: discord.Interaction) -> bool:
    """The user is a configured owner or the application's owner."""
    client = client_of(interaction)
    owners = set(client.app.settings.discord_owner_ids)
    if client.application is not None:
        owners.add(client.application.owner.id)
    return interaction.user.id in owners


def is_admin_user(interaction: discord.Interaction) -> bool:
    """The user is an owner, a configured admin, or holds a configured admin role."""
    settings = client_of(interaction).app.settings
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
        seconds = client_of(interaction).app.settings.discord_cooldown_seconds
        return app_commands.Cooldown(1, seconds) if seconds > 0 else None

    return app_commands.checks.dynamic_cooldown(factory)
