"""`nowbot queue`: review campaign posts before they are published."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from bot.cli.common import cli_app, console
from bot.cli.groups import queue

if TYPE_CHECKING:
    from bot.core.posts import ReviewAction


@queue.command("list")
def list_posts(
    all_posts: bool = typer.Option(False, "--all", help="Include published and rejected posts."),
    limit: int = typer.Option(30, "--limit", min=1, help="Most posts to show."),
) -> None:
    """Show posts waiting for review or publishing, newest first."""
    from bot import outbox
    from storage.outbox import PostStatus

    statuses = () if all_posts else (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.PUBLISHING,
                                      PostStatus.UNKNOWN, PostStatus.FAILED)
    with cli_app() as app:
        posts = outbox.posts(app.sessions, *statuses, limit=limit)
    if not posts:
        console.print("no posts waiting" if not all_posts else "no posts yet")
        return
    table = Table("id", "platform", "status", "text", "reviewed by", "note")
    for post in posts:
        table.add_row(str(post.id), post.platform, post.status, post.text,
                      post.reviewed_by or "", post.error or "")
    console.print(table)


def _reviewer() -> str:
    """Who reviews from this command line: the login name, as stored on the post."""
    return f"cli:{getpass.getuser()}"


def _review(post_id: int, action: ReviewAction) -> str:
    """The review use case, as this command line's user; the post's text afterwards."""
    from bot import generation
    from bot.core import posts

    with cli_app() as app:
        return posts.review(app, generation, post_id, action, _reviewer()).text


@queue.command("approve")
def approve(post_id: int = typer.Argument(..., help="Post id (see 'nowbot queue list').")) -> None:
    """Approve a draft: the running bot publishes it on its next outbox run."""
    _review(post_id, "approve")
    console.print(f"post {post_id} approved")


@queue.command("reject")
def reject(post_id: int = typer.Argument(..., help="Post id (see 'nowbot queue list').")) -> None:
    """Reject a post: it is never published."""
    _review(post_id, "reject")
    console.print(f"post {post_id} rejected")


@queue.command("regenerate")
def regenerate(post_id: int = typer.Argument(..., help="Post id (see 'nowbot queue list').")) -> None:
    """Replace a draft's text with a freshly generated one."""
    text = _review(post_id, "regenerate")
    console.print(f"post {post_id}: {text}", highlight=False)
