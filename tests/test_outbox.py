"""The post state machine: review, auto mode, once-only publishing, recovery and reconciliation."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot import outbox, publishing
from bot.app import App
from bot.outbox import InvalidTransition, OutboxError, create_post
from bot.platforms.base import NEVER, NotSent, Outgoing, OutcomeUnknown, Rejected, RemotePost
from bot.platforms.local.publisher import LocalPublisher
from bot.platforms.x.text import fit_text, x_length
from conftest import cli_runner
from storage.base import utcnow
from storage.outbox import Delivery, Post, PostStatus


class StubPublisher:
    """Records what it was asked to publish; `outcome` makes the next call fail that way."""

    resend_safe_for = NEVER

    def __init__(self, *, cost: float = 0.015, budget: float | None = None, delay: float = 0.0,
                 platform: str = "x") -> None:
        self.cost_per_post_usd, self.monthly_budget_usd, self.delay = cost, budget, delay
        self.platform = platform
        self.sent: list[RemotePost] = []
        self.outcome: Exception | None = None
        self.created_despite_error = False

    def publish(self, item: Outgoing) -> str:
        text = item.text
        time.sleep(self.delay)
        if self.outcome is not None:
            error, self.outcome = self.outcome, None
            if self.created_despite_error:
                self.sent.append(RemotePost(str(1000 + len(self.sent)), text))
            raise error
        self.sent.append(RemotePost(str(1000 + len(self.sent)), text))
        return self.sent[-1].external_id

    def recent_posts(self, limit: int) -> list[RemotePost]:
        return list(reversed(self.sent))[:limit]


def add(app: App, text: str = "Rendering talks start at nine", *, review: bool = True,
        platforms: tuple[str, ...] = ("x",)) -> Post:
    with app.sessions.begin() as session:
        return create_post(session, platforms=platforms, text=text, hashtag="#siggraphNOW",
                           review=review)


def status(app: App, post_id: int) -> Post:
    with app.sessions() as session:
        return session.get_one(Post, post_id)


def delivery(app: App, post_id: int, platform: str = "x") -> Delivery:
    """The post's delivery to `platform`, as stored now."""
    found = status(app, post_id).delivery(platform)
    assert found is not None
    return found


def test_review_mode_publishes_nothing_before_approval(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=True)
    assert post.status == PostStatus.DRAFT
    assert publishing.publish_due(app.sessions, {"x": publisher}) == []
    assert publisher.sent == []

    outbox.approve(app.sessions, post.id, reviewer="ana")
    publishing.publish_due(app.sessions, {"x": publisher})
    published = status(app, post.id)
    assert published.status == PostStatus.PUBLISHED
    assert (delivery(app, post.id).external_id, delivery(app, post.id).cost_usd) == ("1000", pytest.approx(0.015))
    assert published.reviewed_by == "ana" and published.reviewed_at is not None
    assert [p.text for p in publisher.sent] == ["Rendering talks start at nine #siggraphNOW"]


def test_auto_mode_publishes_directly(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    publishing.publish_due(app.sessions, {"x": publisher})
    assert status(app, post.id).status == PostStatus.PUBLISHED
    assert status(app, post.id).reviewed_by is None  # nobody reviewed it
    assert len(publisher.sent) == 1


def test_rejected_post_is_never_published(app: App) -> None:
    publisher = StubPublisher()
    post = add(app)
    outbox.reject(app.sessions, post.id, reviewer="ana")
    with pytest.raises(InvalidTransition, match="is rejected"):
        outbox.approve(app.sessions, post.id, reviewer="bo")
    assert status(app, post.id).reviewed_by == "ana"  # the refused approval changed nothing
    publishing.publish_due(app.sessions, {"x": publisher})
    assert publisher.sent == []


def test_published_post_cannot_be_published_again(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    publishing.publish_delivery(app.sessions, post.deliveries[0].id, publisher)
    with pytest.raises(InvalidTransition):
        publishing.publish_delivery(app.sessions, post.deliveries[0].id, publisher)
    with pytest.raises(InvalidTransition):
        outbox.approve(app.sessions, post.id, reviewer="ana")
    assert len(publisher.sent) == 1


def test_concurrent_publishers_send_a_post_once(app: App) -> None:
    publisher = StubPublisher(delay=0.3)
    post = add(app, review=False)
    errors: list[Exception] = []

    def publish() -> None:
        try:
            publishing.publish_delivery(app.sessions, post.deliveries[0].id, publisher)
        except OutboxError as error:
            errors.append(error)

    threads = [threading.Thread(target=publish) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(publisher.sent) == 1
    assert len(errors) == 2
    assert status(app, post.id).status == PostStatus.PUBLISHED


def test_not_sent_goes_back_to_approved_until_retry_time(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    later = utcnow() + timedelta(hours=1)
    publisher.outcome = NotSent("rate limited", retry_after=later)
    publishing.publish_due(app.sessions, {"x": publisher})
    waiting = delivery(app, post.id)
    assert waiting.status == PostStatus.APPROVED and waiting.error == "rate limited"
    publishing.publish_due(app.sessions, {"x": publisher})  # not due yet
    assert publisher.sent == []


def test_refused_post_fails_with_reason(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    publisher.outcome = Rejected("X refused the credentials")
    publishing.publish_due(app.sessions, {"x": publisher})
    failed = delivery(app, post.id)
    assert failed.status == PostStatus.FAILED and "credentials" in (failed.error or "")
    outbox.approve(app.sessions, post.id, reviewer="ana")  # a person may try again after fixing it
    assert status(app, post.id).status == PostStatus.APPROVED


def test_unknown_outcome_found_on_account_is_not_sent_again(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    publisher.outcome, publisher.created_despite_error = OutcomeUnknown("read timeout"), True
    publishing.publish_due(app.sessions, {"x": publisher})
    assert status(app, post.id).status == PostStatus.UNKNOWN
    publishing.publish_due(app.sessions, {"x": publisher})  # unknown posts are not retried
    assert len(publisher.sent) == 1

    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(0))
    resolved = delivery(app, post.id)
    assert resolved.status == PostStatus.PUBLISHED and resolved.external_id == "1000"
    assert len(publisher.sent) == 1


def test_unknown_outcome_not_on_account_is_retried_after_settling(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    publisher.outcome = OutcomeUnknown("server error")
    publishing.publish_due(app.sessions, {"x": publisher})
    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(hours=1))
    assert status(app, post.id).status == PostStatus.UNKNOWN  # too early to tell
    publishing.reconcile(app.sessions, {"x": publisher}, settle=timedelta(0))
    assert status(app, post.id).status == PostStatus.APPROVED
    publishing.publish_due(app.sessions, {"x": publisher})
    assert status(app, post.id).status == PostStatus.PUBLISHED and len(publisher.sent) == 1


def test_interrupted_publish_becomes_unknown(app: App) -> None:
    post = add(app, review=False)
    with app.sessions.begin() as session:
        outbox.move_delivery(session, post.deliveries[0].id, PostStatus.PUBLISHING)
    assert publishing.mark_interrupted(app.sessions) == 1
    assert status(app, post.id).status == PostStatus.UNKNOWN


def test_monthly_budget_stops_publishing(app: App) -> None:
    publisher = StubPublisher(cost=0.015, budget=0.02)
    first, second = add(app, "one", review=False), add(app, "two", review=False)
    publishing.publish_due(app.sessions, {"x": publisher})
    assert status(app, first.id).status == PostStatus.PUBLISHED
    assert status(app, second.id).status == PostStatus.APPROVED
    assert len(publisher.sent) == 1
    with app.sessions() as session:
        assert publishing.month_spend(session, "x") == pytest.approx(0.015)


def test_regenerate_replaces_only_drafts(app: App) -> None:
    post = add(app)
    outbox.replace_text(app.sessions, post.id, "Exhibition floor opens at ten", "#siggraphNOW")
    assert status(app, post.id).text == "Exhibition floor opens at ten #siggraphNOW"
    outbox.approve(app.sessions, post.id, reviewer="ana")
    with pytest.raises(OutboxError, match="only drafts"):
        outbox.replace_text(app.sessions, post.id, "x", None)


def test_local_publisher_writes_the_post_once(app: App, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "var" / "outbox")
    with app.sessions.begin() as session:
        post = create_post(session, platforms=["local"], text="hello", hashtag="#siggraphNOW", review=False)
    publishing.publish_due(app.sessions, {"local": publisher})
    assert delivery(app, post.id, "local").external_id == f"local-{post.id}"
    assert [p.text for p in publisher.recent_posts(10)] == ["hello #siggraphNOW"]


def test_fit_text_appends_hashtag_and_fits_280() -> None:
    assert fit_text("Papers  fast forward\ntonight", "#siggraphNOW") == (
        "Papers fast forward tonight #siggraphNOW"
    )
    assert fit_text("see you at #SIGGRAPHnow!", "#siggraphNOW") == "see you at #SIGGRAPHnow!"
    long = fit_text("word " * 100, "#siggraphNOW")
    assert x_length(long) <= 280 and long.endswith("… #siggraphNOW")
    emoji = fit_text("🎉" * 200, "#siggraphNOW")
    assert x_length(emoji) <= 280 and x_length("🎉") == 2


def test_queue_commands_list_approve_reject(app: App) -> None:
    run = cli_runner(app)

    def nowbot(*args: str) -> tuple[int, str]:
        result = run(*args)
        return result.exit_code, result.output

    first, second = add(app, "Talks at nine"), add(app, "Demos at ten")
    code, output = nowbot("queue", "list")
    assert code == 0 and "Talks at nine" in output and "draft" in output
    assert nowbot("queue", "approve", str(first.id))[0] == 0
    assert nowbot("queue", "reject", str(second.id))[0] == 0
    assert status(app, first.id).status == PostStatus.APPROVED
    assert status(app, second.id).status == PostStatus.REJECTED
    code, output = nowbot("queue", "approve", str(second.id))
    assert code == 1 and f"post {second.id} is rejected" in output
    code, output = nowbot("queue", "regenerate", str(first.id))
    assert code == 1 and "no serving text model" in output  # before the first training


class Reading(StubPublisher):
    """A stub that remembers how many posts each reconciliation read asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []

    def recent_posts(self, limit: int) -> list[RemotePost]:
        self.limits.append(limit)
        return super().recent_posts(limit)


def _unknown_after_timeout(app: App, publisher: StubPublisher, created: bool) -> Post:
    post = add(app, review=False)
    publisher.outcome, publisher.created_despite_error = OutcomeUnknown("timeout"), created
    publishing.publish_due(app.sessions, {"x": publisher})
    with app.sessions.begin() as session:  # settled: long enough ago for X to show it
        session.get_one(Delivery, post.deliveries[0].id).updated_at = utcnow() - timedelta(minutes=5)
    return post


def _newer_posts(account: StubPublisher, count: int) -> None:
    """The account posted `count` more times after the attempt."""
    account.sent += [RemotePost(str(9000 + i), f"other post {i}", utcnow()) for i in range(count)]


def test_reconciliation_reads_past_the_newest_posts_to_find_the_one_in_doubt(app: App) -> None:
    account = Reading()
    post = _unknown_after_timeout(app, account, created=True)
    _newer_posts(account, 30)  # the post in doubt is the account's 31st newest
    publishing.reconcile(app.sessions, {"x": account})
    assert status(app, post.id).status == PostStatus.PUBLISHED
    assert account.limits[0] < 31 < account.limits[-1]  # a first short read, then further back
    publishing.publish_due(app.sessions, {"x": account})
    assert len(account.sent) == 31  # never sent a second time


def test_a_post_reconciliation_cannot_rule_out_stays_unknown_instead_of_going_out_again(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    account = Reading()
    post = _unknown_after_timeout(app, account, created=False)
    _newer_posts(account, 500)  # more newer posts than one reconciliation may read
    with caplog.at_level("WARNING", logger="nowbot.outbox"):
        publishing.reconcile(app.sessions, {"x": account})
    assert status(app, post.id).status == PostStatus.UNKNOWN  # not approved to be sent again
    assert max(account.limits) <= 200 and "cannot tell whether it reached x" in caplog.text
    account.sent = account.sent[:5]  # now the account's whole timeline fits in one read
    publishing.reconcile(app.sessions, {"x": account})
    assert status(app, post.id).status == PostStatus.APPROVED  # certainly not there: send again


def test_approving_a_failed_post_again_gives_it_fresh_attempts(app: App) -> None:
    publisher = StubPublisher()
    post = add(app, review=False)
    with app.sessions.begin() as session:
        session.get_one(Delivery, post.deliveries[0].id).attempts = publishing.MAX_ATTEMPTS
    publisher.outcome = NotSent("X is down")
    publishing.publish_due(app.sessions, {"x": publisher})
    assert status(app, post.id).status == PostStatus.FAILED
    outbox.approve(app.sessions, post.id, reviewer="ana")
    publisher.outcome = NotSent("X is still down")
    publishing.publish_due(app.sessions, {"x": publisher})
    assert (delivery(app, post.id).status, delivery(app, post.id).attempts) == (PostStatus.APPROVED, 1)
