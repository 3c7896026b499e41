"""Options every `nowbot train ...` command takes, and its budget rule, written once."""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_MINUTES = 10.0

Minutes = Annotated[float | None, typer.Option(
    help=f"Wall-clock training budget in minutes ({DEFAULT_MINUTES:g} when no budget is given).",
    min=0.01)]
Fresh = Annotated[bool, typer.Option(
    "--fresh", help="Start a new model: no resuming, no fine-tuning of the serving version (a text model still starts from the English prior unless --from-scratch).")]
RunId = Annotated[int | None, typer.Option(
    "--run-id", hidden=True, help="The requested training run this is (the service's).")]


def budget(minutes: float | None, epochs: float | None) -> tuple[float | None, float | None]:
    """(minutes, epochs) to train for: one of them, `DEFAULT_MINUTES` when neither is given."""
    if minutes is not None and epochs is not None:
        raise typer.BadParameter("give --minutes or --epochs, not both")
    return (DEFAULT_MINUTES if minutes is None and epochs is None else minutes), epochs
