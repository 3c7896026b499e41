"""`nowbot queue edit / unapprove / schedule / export` and a repeated approve, from the command
line against a real database."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import timedelta
from pathlib import Path

from bot import platform_health, publishing
from bot.app import App
from bot.platforms.base import NotSent
from conftest import cli_runner
from storage.base import as_utc, utcnow
from storage.outbox import Post, PostStatus
from test_outbox import StubPublisher, add, status


def test_edit_unapprove_and_approve_twice(app: App) -> None:
    nowbot = cli_runner(app)
    post = add(app, "Talks at nine")
    edited = nowbot("queue", "edit", str(post.id), "Papers fast forward at five #siggraphNOW")
    assert edited.exit_code == 0 and f"post {post.id}: Papers fast forward at five" in edited.output
    assert status(app, post.id).edited_by.startswith("cli:")
    too_long = nowbot("queue", "edit", str(post.id), "x" * 281)
    assert too_long.exit_code == 1
    assert f"error: post {post.id}: the text is 281 characters long as x counts them; it takes 280" \
        in too_long.output
    assert nowbot("queue", "approve", str(post.id)).exit_code == 0
    again = nowbot("queue", "approve", str(post.id))  # quietly: nothing changes
    assert again.exit_code == 0 and f"post {post.id} approved" in again.output
    not_draft = nowbot("queue", "edit", str(post.id), "Late change")
    assert not_draft.exit_code == 1 and "is approved: only drafts can be edited" in not_draft.output
    undone = nowbot("queue", "unapprove", str(post.id))
    assert undone.exit_code == 0 and f"post {post.id} is a draft again" in undone.output
    assert status(app, post.id).status == PostStatus.DRAFT
    twice = nowbot("queue", "unapprove", str(post.id))
    assert twice.exit_code == 1 and "only approved posts not yet being published can be unapproved" in twice.output
    missing = nowbot("queue", "unapprove", "999")
    assert missing.exit_code == 1 and "error: no post with id 999" in missing.output


def test_schedule_takes_a_delay_or_an_iso_time_and_refuses_the_past(app: App) -> None:
    nowbot = cli_runner(app)
    post = add(app)
    scheduled = nowbot("queue", "schedule", str(post.id), "in 2h")
    assert scheduled.exit_code == 0 and "approved, to be published at" in scheduled.output
    when = as_utc(status(app, post.id).publish_at)
    assert timedelta(minutes=119) < when - utcnow() <= timedelta(hours=2)
    publishing.publish_due(app.sessions, {"x": (publisher := StubPublisher())})
    assert publisher.sent == []  # not before its time
    listed = nowbot("queue", "list")
    assert "publishes at" in listed.output and f"{when:%H:%M}" in listed.output  # a narrow table
    later = (utcnow() + timedelta(days=1)).replace(microsecond=0, tzinfo=None)
    assert nowbot("queue", "schedule", str(post.id), later.isoformat()).exit_code == 0  # re-timed
    assert as_utc(status(app, post.id).publish_at) == as_utc(later)
    past = nowbot("queue", "schedule", str(post.id), "2020-01-01T09:00")
    assert past.exit_code == 1 and "error: 2020-01-01 09:00 UTC is in the past: give a later time" in past.output
    bad = nowbot("queue", "schedule", str(post.id), "tomorrow")
    assert bad.exit_code == 1 and "cannot read the time 'tomorrow': give an ISO time" in bad.output


def test_export_writes_published_posts_as_csv_or_json(app: App, tmp_path: Path) -> None:
    nowbot = cli_runner(app)
    sent, waiting = add(app, "Talks at nine", review=False), add(app, "Demos at ten")
    publishing.publish_due(app.sessions, {"x": StubPublisher()})
    as_csv = nowbot("queue", "export", "--format", "csv")
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(row["id"], row["status"], row["external_id"]) for row in rows] == [(str(sent.id), "published", "1000")]
    assert rows[0]["text"] == status(app, sent.id).text and rows[0]["published_at"].endswith("+00:00")
    target = tmp_path / "posts.json"
    written = nowbot("queue", "export", "--format", "json", "--all", "-o", str(target))
    assert written.exit_code == 0 and f"wrote 2 posts to {target}" in written.output
    records = json.loads(target.read_text())
    assert [record["id"] for record in records] == [sent.id, waiting.id]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # readable by others, as files usually are
    with app.sessions() as session:
        assert session.get_one(Post, waiting.id).status == PostStatus.DRAFT
    wrong = nowbot("queue", "export", "--format", "xml")
    assert wrong.exit_code == 2 and "xml" in wrong.output


def test_list_says_which_platform_is_paused_after_repeated_failures(app: App) -> None:
    nowbot = cli_runner(app)
    post = add(app, "Talks at nine", review=False)
    publisher = StubPublisher()
    for _ in range(platform_health.BREAK_AFTER):
        publisher.outcome = NotSent("could not reach X: ConnectTimeout")
        publishing.publish_due(app.sessions, {"x": publisher})
    listed = nowbot("queue", "list")
    assert listed.exit_code == 0
    assert "x: paused until" in listed.output
    assert "after 3 failures in a row (could not reach X: ConnectTimeout)" in listed.output
    assert publisher.sent == [] and status(app, post.id).status == PostStatus.APPROVED
