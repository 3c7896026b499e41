"""`nowbot review-model`: the campaign's review model, learned from its reviewers' decisions
(`bot.core.reviewing`): what it learned, training it now, starting it over, turning it off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import check_personas, cli_app, cli_user, confirm, say_plain
from bot.cli.groups import review_model

if TYPE_CHECKING:
    from bot.app import App
    from bot.core.reviewing import LoopState

Campaign = Annotated[str | None, typer.Option(
    "--campaign", "-c", metavar="NAME",
    help="The campaign's persona (default: NOWBOT_CAMPAIGN_PERSONA).",
)]


def _campaign(app: App, campaign: str | None) -> str:
    """`campaign`, checked to be a persona, or the settings' campaign persona."""
    if campaign is not None:
        check_personas(app, campaign)
    return campaign or app.settings.campaign_persona


def _say_state(loop: LoopState) -> None:
    say_plain(f"review loop {loop.summary()}")
    say_plain(loop.learned())


@review_model.command("show")
def show(campaign: Campaign = None) -> None:
    """Say whether the loop is on, what the review model learned the reviewers like and
    dislike, how many decisions it has to learn from, and what its newest training decided."""
    from bot.core import reviewing
    from bot.core.versions import verdict

    with cli_app() as app:
        loop = reviewing.state(app, _campaign(app, campaign))
    _say_state(loop)
    say_plain(f"decisions kept: {loop.decisions} since the last reset (a model is trained from "
              f"{loop.needed} judged drafts)")
    say_plain(f"serving: v{loop.serving.version}" if loop.serving else "serving: none yet")
    if loop.latest is None:
        say_plain("newest training: none yet")
    else:
        say_plain(f"newest training: v{loop.latest.version}, {verdict(loop.latest)}")


@review_model.command("train")
def train(campaign: Campaign = None) -> None:
    """Train the review model now from the decisions kept; it serves only if it predicts the
    newest decisions better than chance and than the model serving."""
    from bot.core import reviewing

    with cli_app() as app:
        name = _campaign(app, campaign)
        outcome = reviewing.train(app, name)
        loop = reviewing.state(app, name)
    version = f"v{outcome.version} " if outcome.version is not None else ""
    say_plain(f"review model {name} {version}{outcome.verdict.reason}")
    if outcome.verdict.promoted:
        say_plain(loop.learned())


@review_model.command("reset")
def reset(
    campaign: Campaign = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
) -> None:
    """Start the loop over: the review model stops serving and the decisions so far no longer
    teach the next one (they stay stored, and in the persona's fine-tuning data)."""
    from bot.core import reviewing

    with cli_app() as app:
        name = _campaign(app, campaign)
        confirm(f"Forget the review decisions of {name} so far and stop its review model?", yes)
        _say_state(reviewing.reset(app, cli_user(), name))


@review_model.command("off")
def off(campaign: Campaign = None) -> None:
    """Switch the loop off: posts are chosen as if no review model existed (decisions are
    still kept)."""
    _switch(False, campaign)


@review_model.command("on")
def on(campaign: Campaign = None) -> None:
    """Switch the loop on again."""
    _switch(True, campaign)


def _switch(enabled: bool, campaign: str | None) -> None:
    from bot.core import reviewing

    with cli_app() as app:
        _say_state(reviewing.switch(app, enabled, cli_user(), _campaign(app, campaign)))
