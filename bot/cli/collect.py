"""`nowbot corpus collect`: read a persona's posts from the X API (billed per post read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from bot.cli.common import cli_app, console, err_console
from bot.cli.groups import corpus

if TYPE_CHECKING:  # tweepy and requests load only when collecting, keeping `nowbot --help` fast
    import tweepy

    from bot.config import Settings

    from corpora.collect import CollectReport


def x_client(settings: Settings) -> tweepy.Client:
    """The app-only X client for collection, from the configured bearer token."""
    from corpora.collect import make_client

    token = settings.x_bearer_token
    return make_client(token.get_secret_value() if token else None)


# Tests swap this for a factory that sends the real client to a fake X server.
client_factory: Callable[[Settings], tweepy.Client] = x_client


@corpus.command("collect")
def collect_command(
    persona: str = typer.Argument(..., help="Persona to add the posts to (created if new)."),
    user: str | None = typer.Option(None, "--user", help="X handle whose timeline to read."),
    query: str | None = typer.Option(
        None, "--query", help='Recent-search query (last 7 days), e.g. "#siggraphNOW".'
    ),
    max_reads: int | None = typer.Option(
        None, "--max-reads", min=1, help="Most posts to read this run (default: NOWBOT_X_READ_BUDGET)."
    ),
    max_wait: float = typer.Option(
        900.0, "--max-wait", min=0, help="Longest wait for a rate-limit reset (seconds); longer stops the run."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Skip the cost confirmation."),
) -> None:
    """Collect new posts from X into a persona's corpus, after the newest one already stored.

    X bills each post read: the run stops at the read budget and shows the estimated cost first.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from corpora.collect import RetryPolicy, Source, collect

    if (user is None) == (query is None):
        raise typer.BadParameter("give exactly one of --user or --query")
    source = Source("user", user) if user is not None else Source("query", query or "")
    with cli_app() as app:
        settings = app.settings
        budget = max_reads or settings.x_read_budget
        client = client_factory(settings)
        console.print(
            f"collecting {source} into {persona}: at most {budget} posts,"
            f" estimated cost at most ${budget * settings.x_cost_per_read_usd:.2f}",
            highlight=False, soft_wrap=True,
        )
        if not yes:
            typer.confirm("Continue?", abort=True)
        columns = (TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=True,
                      disable=not err_console.is_terminal) as progress:
            task = progress.add_task("reading", total=budget)
            report = collect(
                app.sessions, client, persona, source, budget, RetryPolicy(max_wait_s=max_wait),
                on_page=lambda done: progress.update(task, completed=done.reads),
            )
        _print_report(report, settings, budget)


def _print_report(report: CollectReport, settings: Settings, budget: int) -> None:
    dropped = report.cleaning.read - report.cleaning.kept
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.cleaning.dropped.items()))
    console.print(
        f"read {report.reads} posts in {report.pages} pages; kept {report.cleaning.kept}"
        f" ({report.stored} new), dropped {dropped}" + (f" ({reasons})" if reasons else "")
        + f"; estimated cost ${report.cost_usd(settings.x_cost_per_read_usd):.2f}",
        highlight=False, soft_wrap=True,
    )
    if report.budget_reached:
        console.print(
            f"stopped at the read budget ({budget} posts); the next run reads the older posts"
            " this one left out before any newer ones",
            highlight=False, soft_wrap=True,
        )
    if report.retry_at is not None:
        console.print(
            f"stopped: X rate limit; what was read is stored, retry after {report.retry_at:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False, soft_wrap=True,
        )
