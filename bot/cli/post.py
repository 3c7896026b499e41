"""`nowbot post now`: one campaign post at once, instead of waiting for the campaign's schedule."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import check_personas, cli_app, say_plain
from bot.cli.groups import post


@post.command("now")
def post_now(
    persona: Annotated[str | None, typer.Option(
        "--persona", "-p", help="Persona to write as (default: NOWBOT_CAMPAIGN_PERSONA).",
    )] = None,
) -> None:
    """Write a campaign post now, as the scheduled job does: for each configured platform (or the local outbox), with an
    image when an image model serves; with review on it waits in the queue (dashboard, `nowbot
    queue approve ID`), else the running bot publishes it on its next outbox run."""
    from bot import generation
    from bot.core.posts import make_campaign_post
    from bot.core.runtime import Runtime
    from bot.platforms.catalog import configured_publishers
    from bot.service import campaign_image_set

    with cli_app(tensorflow=True) as app:
        if persona is not None:
            check_personas(app, persona)
        runtime = Runtime(app=app, generator=generation, publishers=configured_publishers(app.settings),
                          image_set=campaign_image_set(app))
        item = make_campaign_post(runtime, persona)  # logged with its text
    say_plain(f"post {item.id} waits for review: `nowbot queue approve {item.id}` or the dashboard"
              if item.status == "draft" else
              f"post {item.id} is approved: the running bot publishes it on its next outbox run")
