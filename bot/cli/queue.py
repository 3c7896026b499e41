"""`nowbot queue`: review campaign posts before they are published, and export them."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.common import cli_app, cli_user, console, say_plain
from bot.cli.groups import queue

if TYPE_CHECKING:
    from bot.core.posts import ReviewAction
    from storage.outbox import Delivery

PostId = Annotated[int, typer.Argument(metavar="ID", help="Post id (see 'nowbot queue list').",
                                        show_default=False)]
WHEN_HELP = ('When to publish: an ISO time such as 2026-12-03T09:30 (UTC unless it has an offset '
             'such as +02:00), or a delay: "in 45m", "in 2h", "in 1d".')
EXPORT_FIELDS = ("id", "platform", "status", "campaign", "text", "external_id", "published_at",
                 "publish_at", "reviewed_by", "reviewed_at", "edited_by", "cost_usd", "created_at")
POST_FIELDS = ("campaign", "publish_at", "reviewed_by", "reviewed_at", "edited_by", "created_at")


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


@queue.command("list")
def list_posts(
    all_posts: Annotated[bool, typer.Option("--all", help="Include published and rejected posts.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most posts to show.")] = 30,
) -> None:
    """Show posts waiting for review or publishing, newest first, and the platforms paused after
    repeated failures."""
    from bot import outbox, platform_health
    from storage.outbox import PostStatus

    statuses = () if all_posts else (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.PUBLISHING,
                                      PostStatus.UNKNOWN, PostStatus.FAILED)
    with cli_app() as app:
        posts = outbox.posts(app.sessions, *statuses, limit=limit)
        with app.sessions() as session:
            failing = platform_health.summaries(session)
    for line in failing:
        say_plain(line)
    if not posts:
        console.print("no posts waiting" if not all_posts else "no posts yet")
        return
    table = Table("id", "status", "platforms", "text", "reviewed by", "note")
    for post in posts:  # texts are shown as written, never read as markup
        where = "\n".join(f"{d.platform}: {d.status}" for d in post.deliveries) or "none"
        errors = "; ".join(f"{d.platform}: {d.error}" for d in post.deliveries if d.error)
        note = errors or (f"publishes at {_utc(post.publish_at)}" if post.publish_at else "")
        table.add_row(str(post.id), post.status, where, escape(post.text),
                      escape(post.reviewed_by or ""), escape(note))
    console.print(table)


def _utc(moment: Any) -> str:
    from storage.base import as_utc

    return f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"


def _review(post_id: int, action: ReviewAction) -> str:
    """The review use case, as this command line's user; the post's text afterwards."""
    from bot import generation
    from bot.core import posts

    with cli_app() as app:
        return posts.review(app, generation, post_id, action, cli_user()).text


@queue.command("approve")
def approve(post_id: PostId) -> None:
    """Approve a draft: the running bot publishes it on its next outbox run (approving it again
    changes nothing)."""
    _review(post_id, "approve")
    console.print(f"post {post_id} approved")


@queue.command("reject")
def reject(post_id: PostId) -> None:
    """Reject a post: it is never published."""
    _review(post_id, "reject")
    console.print(f"post {post_id} rejected")


@queue.command("regenerate")
def regenerate(post_id: PostId) -> None:
    """Replace a draft's text with a freshly generated one."""
    say_plain(f"post {post_id}: {_review(post_id, 'regenerate')}")


@queue.command("edit")
def edit(
    post_id: PostId,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The new text, published as written "
                                        "(quote it).", show_default=False)],
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Change only this platform's version (x, mastodon, bluesky, discord, local).",
    )] = None,
) -> None:
    """Rewrite a draft's text by hand; it must fit each platform it goes to (X: 280, emoji count 2,
    links 23; Mastodon 500; Bluesky 300 graphemes). No hashtag is added."""
    from bot.core import posts

    with cli_app() as app:
        post = posts.edit_text(app, post_id, text, cli_user(), platform=platform)
    shown = post.delivery(platform).text if platform and post.delivery(platform) else post.text
    say_plain(f"post {post_id}{f' on {platform}' if platform else ''}: {shown}")


@queue.command("describe")
def describe(
    post_id: PostId,
    alt: Annotated[str, typer.Argument(metavar="TEXT", help="What the image shows, for people who "
                                       "cannot see it (quote it; empty: none).", show_default=False)],
) -> None:
    """Set a draft's image description (alt text), sent with the image to every platform."""
    from bot.core import posts

    with cli_app() as app:
        post = posts.edit_alt(app, post_id, alt, cli_user())
    say_plain(f"post {post_id}: image described as: {post.image_alt or '(none)'}")


@queue.command("unapprove")
def unapprove(post_id: PostId) -> None:
    """Undo an approval (before publishing began): the post is a draft again."""
    from bot.core import posts

    with cli_app() as app:
        posts.unapprove(app, post_id, cli_user())
    console.print(f"post {post_id} is a draft again")


@queue.command("schedule")
def schedule(
    post_id: PostId,
    when: Annotated[str, typer.Argument(metavar="WHEN", help=WHEN_HELP, show_default=False)],
) -> None:
    """Approve a draft (or re-time an approved post) to be published at a given time."""
    from bot.core import posts

    with cli_app() as app:
        post = posts.schedule(app, post_id, posts.parse_when(when), cli_user())
    say_plain(f"post {post_id} approved, to be published at {_utc(post.publish_at)}")


@queue.command("export")
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or json.")] = ExportFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
    all_posts: Annotated[bool, typer.Option("--all", help="Every post, not only the published ones.")] = False,
) -> None:
    """Export what was published (with --all: every post), oldest first, one row per post and
    platform: id, platform, status there, persona, text as it went there, the platform's id,
    times, who reviewed or edited it, cost."""
    from sqlalchemy import select

    from storage.artifacts import atomic_write_bytes
    from storage.outbox import Delivery, PostStatus

    query = select(Delivery).order_by(Delivery.post_id, Delivery.id)
    if not all_posts:
        query = query.where(Delivery.status == PostStatus.PUBLISHED)
    with cli_app() as app, app.sessions() as session:
        rows = [_row(delivery) for delivery in session.scalars(query)]
    data = _csv(rows) if fmt == ExportFormat.csv else json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        typer.echo(data, nl=False)
        return
    atomic_write_bytes(output, data.encode("utf-8"))
    say_plain(f"wrote {len(rows)} posts to {output}")


def _row(delivery: Delivery) -> dict[str, Any]:
    from storage.base import as_utc

    row = {name: getattr(delivery.post if name in POST_FIELDS else delivery, name)
           for name in EXPORT_FIELDS}
    row["id"] = delivery.post_id
    return {name: as_utc(value).isoformat() if hasattr(value, "isoformat") else value
            for name, value in row.items()}


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
