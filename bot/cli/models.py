"""`nowbot models list`: every model version, what serves, its metrics in words, and the
personas each speaks (in the same words as the dashboard's models page: `bot.core.versions`)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import cli_app, console, say_plain
from bot.cli.groups import models

SHORT_MEANING = 40  # a fact's note this short is said next to it ("fine-tuned from v2")


@models.command("list")
def list_command(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind: text, gan or draw.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most versions to show, newest first.")] = 20,
) -> None:
    """List model versions, newest first: status, metrics explained, the gate's verdict, and the
    personas a text model speaks (or the set an image model draws like)."""
    from sqlalchemy import select

    from bot.core.versions import describe
    from models.registry import Registry
    from storage.corpus import Persona

    with cli_app() as app:
        versions = Registry(app.sessions, app.artifacts_dir).versions(kind)[:limit]
        with app.sessions() as session:
            personas = list(session.scalars(select(Persona.name)))
    if not versions:
        console.print("no model versions yet: `nowbot train text` (or `nowbot run`) trains the first")
        return
    meanings: dict[str, str] = {}
    for version in versions:
        view = describe(version, personas)
        say_plain(f"{version.kind} {version.target} v{version.version}: {version.status}, {view.speaks}")
        for fact in view.facts:
            inline = f" ({fact.meaning})" if 0 < len(fact.meaning) <= SHORT_MEANING else ""
            say_plain(f"    {fact.name}: {fact.value}{inline}")
            if len(fact.meaning) > SHORT_MEANING:  # an explanation: said once, below
                meanings[fact.name] = fact.meaning
        say_plain(f"    gate: {view.verdict}")
    say_plain("")
    for name, meaning in meanings.items():
        say_plain(f"{name}: {meaning}")
