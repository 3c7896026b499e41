"""What `nowbot corpus delete` and `nowbot images delete` share: say what goes and what stays,
ask, then delete through `bot.core.deletion`."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from bot.cli.common import cli_app, confirm, say_plain

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")]
RetireModels = Annotated[bool, typer.Option(
    "--retire-models", help="Also retire the serving models that use it (their files stay).",
)]


def delete_named(what: Literal["persona", "image set"], name: str, yes: bool, retire_models: bool) -> None:
    """Delete persona or image set `name` after showing what goes and asking (unless `yes`)."""
    from bot.core import deletion

    with cli_app() as app:
        if what == "persona":
            plan = deletion.persona_deletion(app, name)
            items, made = "tweets", f"the posts made as {name}"
        else:
            plan = deletion.image_set_deletion(app, name)
            items, made = "images and their files", "the images made for posts"
        retired = f"; retires the serving model {', '.join(plan.serving)}" if plan.serving and retire_models else ""
        say_plain(f"deletes {what} {name} and its {plan.items:,} {items}{retired}; keeps every model "
                  f"version's files and {made}")
        if plan.serving and not retire_models:
            deletion.delete(app, plan)  # refused with what to do
        confirm(f"Delete {what} {name}?", yes)
        deletion.delete(app, plan, retire_models=retire_models)
    say_plain(f"deleted {what} {name}")
