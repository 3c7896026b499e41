"""Approve, Reject and Regenerate buttons under `/queue`, alive across restarts.

Each button's `custom_id` (`nowbot:review:<action>:<post_id>`) carries everything needed, and the
client registers `ReviewButton` as a dynamic item in `setup_hook`, so a button on a message sent
before a restart still works.
"""

from __future__ import annotations

import re
from typing import Any, cast

import discord

from bot import commands
from bot.platforms.discord.checks import NotAdmin, is_admin_user
from bot.platforms.discord.interaction import client_of
from bot.platforms.discord.replies import report_error, send_followup
from bot.platforms.discord.text import QUEUE_PAGE

STYLES = {
    "approve": discord.ButtonStyle.success,
    "reject": discord.ButtonStyle.danger,
    "regenerate": discord.ButtonStyle.secondary,
}


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"nowbot:review:(?P<action>approve|reject|regenerate):(?P<post_id>[0-9]+)",
):
    """One review action on one post; only admins may press it."""

    def __init__(self, action: commands.ReviewAction, post_id: int, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"{action.capitalize()} #{post_id}", style=STYLES[action], row=row,
                custom_id=f"nowbot:review:{action}:{post_id}",
            )
        )
        self.action, self.post_id = action, post_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str], /
    ) -> ReviewButton:
        return cls(cast(commands.ReviewAction, match["action"]), int(match["post_id"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if is_admin_user(interaction):
            return True
        await report_error(interaction, NotAdmin())
        return False

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        client = client_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            reviewer = str(interaction.user)
            if self.action == "regenerate":  # writes a new text: the models' work
                reply = await client.chat.reply("review", self.post_id, self.action, reviewer)
            else:
                reply = await client.run_blocking(
                    commands.review, client.app, self.post_id, self.action, reviewer)
            await send_followup(interaction, reply)
        except Exception as error:  # noqa: BLE001  (a view has no tree: report here)
            await report_error(interaction, error)


def review_view(post_ids: tuple[int, ...]) -> discord.ui.View:
    """A persistent view with one row of review buttons per post."""
    view = discord.ui.View(timeout=None)
    for row, post_id in enumerate(post_ids[:QUEUE_PAGE]):
        for action in STYLES:
            view.add_item(ReviewButton(cast(commands.ReviewAction, action), post_id, row=row))
    return view
