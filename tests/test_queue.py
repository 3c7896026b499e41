"""The queue's use cases a person drives: edit a draft, undo an approval, schedule a post for a
time, approve twice; each published (or held back) by the real outbox run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import publishing
from bot.app import App
from bot.core import posts
from bot.outbox import BadText, BadTime, OutboxError, PostNotFound, WrongStatus
from bot.platforms.x.text import post_length
from storage.base import utcnow
from storage.outbox import Post, PostStatus
from test_outbox import StubPublisher, add, status


def publish(app: App) -> StubPublisher:
    """One outbox run against an X stand-in; returns it with what it sent."""
    publisher = StubPublisher()
    publishing.publish_due(app.sessions, {"x": publisher})
    return publisher


def test_edit_text_replaces_a_drafts_text_and_names_the_editor(app: App) -> None:
    post = add(app, "Rendering talks start at nine")
    edited = posts.edit_text(app, post.id, "  Papers   fast forward at five #siggraphNOW ", "cli:ada")
    assert edited.text == "Papers fast forward at five #siggraphNOW"
    stored = status(app, post.id)
    assert (stored.text, stored.edited_by, stored.status) == (edited.text, "cli:ada", PostStatus.DRAFT)
    posts.review(app, None, post.id, "approve", "cli:ada")  # type: ignore[arg-type]
    assert [sent.text for sent in publish(app).sent] == [edited.text]


def test_edit_text_counts_as_x_does_links_23_and_emoji_2(app: App) -> None:
    post = add(app)
    with_link = "a" * 250 + " https://example.org/" + "b" * 80  # 352 characters, 274 for X
    assert post_length(with_link) == 274
    assert posts.edit_text(app, post.id, with_link, "dashboard").text == with_link
    with pytest.raises(BadText, match=f"post {post.id}: the text is 282 characters long as x "
                                      "counts them; it takes 280"):
        posts.edit_text(app, post.id, "🎉" * 141, "dashboard")
    with pytest.raises(BadText, match="empty"):
        posts.edit_text(app, post.id, "   ", "dashboard")
    assert status(app, post.id).text == with_link


def test_only_drafts_can_be_edited(app: App) -> None:
    post = add(app, review=False)
    with pytest.raises(WrongStatus, match=f"post {post.id} is approved: only drafts can be edited"):
        posts.edit_text(app, post.id, "New text", "dashboard")
    with pytest.raises(PostNotFound, match="no post with id 999"):
        posts.edit_text(app, 999, "New text", "dashboard")


def test_unapprove_makes_an_approved_post_a_draft_that_is_not_published(app: App) -> None:
    post = add(app)
    posts.review(app, None, post.id, "approve", "cli:ada")  # type: ignore[arg-type]
    undone = posts.unapprove(app, post.id, "cli:ada")
    assert (undone.status, undone.reviewed_by, undone.publish_at) == (PostStatus.DRAFT, None, None)
    assert publish(app).sent == []
    with pytest.raises(WrongStatus, match="only approved posts not yet being published"):
        posts.unapprove(app, post.id, "cli:ada")


def test_a_post_being_published_cannot_be_unapproved(app: App) -> None:
    post = add(app, review=False)
    with app.sessions.begin() as session:
        session.get_one(Post, post.id).status = PostStatus.PUBLISHING  # claimed by the outbox run
    with pytest.raises(WrongStatus, match=f"post {post.id} is publishing"):
        posts.unapprove(app, post.id, "dashboard")


def test_approving_twice_is_a_quiet_no_op(app: App) -> None:
    post = add(app)
    first = posts.review(app, None, post.id, "approve", "cli:ada")  # type: ignore[arg-type]
    again = posts.review(app, None, post.id, "approve", "dashboard")  # type: ignore[arg-type]
    assert again.status == PostStatus.APPROVED and again.reviewed_by == first.reviewed_by == "cli:ada"


def test_a_scheduled_post_waits_for_its_time(app: App) -> None:
    draft, approved = add(app, "Talks at nine"), add(app, "Demos at ten", review=False)
    later = utcnow() + timedelta(hours=2)
    scheduled = posts.schedule(app, draft.id, later, "dashboard")
    assert scheduled.status == PostStatus.APPROVED and scheduled.reviewed_by == "dashboard"
    posts.schedule(app, approved.id, later, "cli:ada")  # re-timed
    assert publish(app).sent == []
    with app.sessions.begin() as session:  # two hours later
        session.get_one(Post, draft.id).publish_at = utcnow() - timedelta(seconds=1)
    assert [sent.text for sent in publish(app).sent] == [status(app, draft.id).text]
    assert status(app, approved.id).status == PostStatus.APPROVED


def test_schedule_refuses_a_past_time_and_a_finished_post(app: App) -> None:
    post = add(app)
    with pytest.raises(BadTime, match="is in the past: give a later time"):
        posts.schedule(app, post.id, datetime(2020, 1, 1, 9, 0), "dashboard")
    assert status(app, post.id).status == PostStatus.DRAFT
    posts.review(app, None, post.id, "reject", "dashboard")  # type: ignore[arg-type]
    with pytest.raises(WrongStatus, match="rejected: only drafts and approved posts can be scheduled"):
        posts.schedule(app, post.id, utcnow() + timedelta(hours=1), "dashboard")
    with pytest.raises(OutboxError, match="no post with id 999"):
        posts.schedule(app, 999, utcnow() + timedelta(hours=1), "dashboard")


def test_parse_when_reads_iso_times_and_delays() -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert posts.parse_when("in 2h", now) == now + timedelta(hours=2)
    assert posts.parse_when("in 45m", now) == now + timedelta(minutes=45)
    assert posts.parse_when("IN 1 d", now) == now + timedelta(days=1)
    assert posts.parse_when("2026-12-03T09:30") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert posts.parse_when("2026-12-03 11:30+02:00") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    for bad in ("tomorrow", "in 2 weeks", "2026-13-01"):
        with pytest.raises(BadTime, match=f"cannot read the time '{bad}': give an ISO time"):
            posts.parse_when(bad, now)
