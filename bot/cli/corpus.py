"""`nowbot corpus import` and `nowbot corpus list`: getting tweets into a persona's corpus."""

from __future__ import annotations

from collections import Counter
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.common import cli_app, console
from bot.cli.deletion import RetireModels, Yes, delete_named
from bot.cli.groups import corpus
from corpora.names import NAME_RULE, check_name

if TYPE_CHECKING:
    from corpora.importing import FileReport


class FormatChoice(str, Enum):
    auto = "auto"
    archive = "archive"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    text = "text"


def _dropped(counts: Counter[str], separator: str = ", ") -> str:
    """`12 retweet, 3 empty`: most frequent reason first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return separator.join(f"{count:,} {reason}" for reason, count in ordered) or "-"


def _report_table(reports: list[FileReport]) -> Table:
    table = Table(title="Import")
    table.add_column("File")
    table.add_column("Format")
    for name in ("Read", "New", "Updated", "Already stored"):
        table.add_column(name, justify="right")
    table.add_column("Dropped")
    for report in reports:
        table.add_row(
            escape(report.path.name), report.format, f"{report.cleaning.read:,}", f"{report.added:,}",
            f"{report.updated:,}", f"{report.already_stored:,}", _dropped(report.cleaning.dropped, "\n"),
        )
    return table


def _summary(persona: str, reports: list[FileReport]) -> str:
    read = sum(report.cleaning.read for report in reports)
    added = sum(report.added for report in reports)
    updated = sum(report.updated for report in reports)
    already = sum(report.already_stored for report in reports)
    dropped = sum((report.cleaning.dropped for report in reports), Counter[str]())
    files = f"{len(reports)} file" + ("s" if len(reports) > 1 else "")
    return (
        f"{persona}: {added:,} new, {updated:,} updated, {already:,} already stored, "
        f"{dropped.total():,} dropped ({_dropped(dropped)}), {read:,} read from {files}"
    )


@corpus.command("import")
def import_command(
    persona: Annotated[str, typer.Argument(
        help=f"Persona the tweets belong to (created if new); its name: {NAME_RULE}.",
    )],
    files: Annotated[list[Path], typer.Argument(help="Files to import.", show_default=False)],
    fmt: Annotated[
        FormatChoice, typer.Option("--format", "-f", help="File format; auto detects it.")
    ] = FormatChoice.auto,
    keep_retweets: Annotated[
        bool, typer.Option("--keep-retweets", help="Keep retweets (dropped by default).")
    ] = False,
    drop_replies: Annotated[
        bool, typer.Option("--drop-replies", help="Drop replies (marked so by the source, or opening with @user).")
    ] = False,
    keep_links: Annotated[
        bool, typer.Option("--keep-links", help="Keep links in the text (stripped by default).")
    ] = False,
    strip_mentions: Annotated[
        bool, typer.Option("--strip-mentions", help="Remove @mentions from the text.")
    ] = False,
    keep_reply_address: Annotated[
        bool, typer.Option("--keep-reply-address", help="Keep the @mentions that open a reply.")
    ] = False,
) -> None:
    """Import tweets into PERSONA from X archive (tweets.js), CSV, JSON, JSONL or text files.

    All files are checked before anything is stored: one bad file means nothing is imported.
    A file over 200 MB, a tweet over 50,000 characters or JSON nested too deeply is refused.
    Files are read as streams, in UTF-8 (or UTF-16 or UTF-32 with a byte-order mark).
    Tweets PERSONA already has (same X id or text) are skipped: a second import adds nothing,
    and a re-import after cleaning rules changed updates the stored text. HTML entities and
    backslash-escaped quotes are decoded and emoji kept; by default retweets are dropped, links
    (with the separator before them) stripped, and the @mentions that open a reply removed.
    """
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
    )

    from corpora.cleaning import CleanOptions
    from corpora.importing import check_corpus_files, import_corpus_file

    options = CleanOptions(
        drop_retweets=not keep_retweets, drop_replies=drop_replies,
        strip_links=not keep_links, strip_mentions=strip_mentions,
        strip_reply_address=not keep_reply_address,
    )
    with cli_app() as app:
        check_name("persona", persona)
        corpus_files = check_corpus_files(files, fmt.value)
        reports = []
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            for corpus_file in corpus_files:
                task = progress.add_task(f"storing {escape(corpus_file.path.name)}", total=None)

                def advance(done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                reports.append(
                    import_corpus_file(app.sessions, persona, corpus_file, options, advance)
                )
        console.print(_report_table(reports))
        console.print(_summary(persona, reports), highlight=False, soft_wrap=True)


@corpus.command("list")
def list_command() -> None:
    """List personas with the number of tweets and characters in each corpus."""
    from corpora.summary import persona_summaries

    with cli_app() as app, app.sessions() as session:
        summaries = persona_summaries(session)
    if not summaries:
        console.print("no personas yet: add one with `nowbot corpus import PERSONA FILE`")
        return
    table = Table(title="Personas")
    table.add_column("Persona")
    table.add_column("Tweets", justify="right")
    table.add_column("Characters", justify="right")
    for summary in summaries:
        table.add_row(summary.name, f"{summary.tweets:,}", f"{summary.characters:,}")
    console.print(table)


@corpus.command("delete")
def delete_command(
    persona: Annotated[str, typer.Argument(metavar="PERSONA", help="Persona to delete.", show_default=False)],
    yes: Yes = False,
    retire_models: RetireModels = False,
) -> None:
    """Delete a persona and its tweets, after asking. Model versions' files and the posts made
    as it stay. The campaign's persona cannot be deleted; one a serving text model speaks only
    with --retire-models."""
    delete_named("persona", persona, yes, retire_models)
