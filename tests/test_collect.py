"""X collection, end to end: the real tweepy client talking to the fake X server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bot.app import App
from bot.cli import app as cli
from bot.cli import collect as collect_cli
from bot.config import get_settings
from corpora.collect import RetryPolicy, Source, collect, make_client
from corpora.errors import CollectionError, XUnavailableError
from storage.corpus import Persona, Tweet
from fake_x import FakeX, attach

TOKEN = "test-bearer-token"
TIMELINE = "GET /2/users/:id/tweets"
SEARCH = "GET /2/tweets/search/recent"


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN) as server:
        yield server


@pytest.fixture
def run_cli(fake: FakeX, app: App, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `nowbot ...` on the test database, its X client sent to the fake server."""
    monkeypatch.setattr(
        collect_cli, "client_factory", lambda settings: attach(collect_cli.x_client(settings), fake)
    )
    monkeypatch.setenv("NOWBOT_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("NOWBOT_DATABASE_URL", app.settings.resolved_database_url)
    monkeypatch.setenv("NOWBOT_X_BEARER_TOKEN", TOKEN)
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def run(*args: str, input: str | None = None) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(cli, list(args), input=input)

    yield run
    get_settings.cache_clear()
    root.handlers[:], root.level = saved


def client_for(fake: FakeX, token: str = TOKEN):  # type: ignore[no-untyped-def]
    return attach(make_client(token), fake)


def stored_texts(app: App, persona: str = "ada") -> list[str]:
    with app.sessions() as session:
        return list(session.scalars(
            select(Tweet.text).join(Persona).where(Persona.name == persona).order_by(Tweet.source_id)
        ))


def recorded_sleeps() -> tuple[list[float], RetryPolicy]:
    return [], RetryPolicy(max_wait_s=10, attempts=3, backoff_s=0.5)


def test_collect_user_pages_through_the_timeline(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", [f"graphics note {i}" for i in range(250)])
    report = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 500)
    assert (report.pages, report.reads, report.stored) == (3, 250, 250)
    assert len(stored_texts(app)) == 250
    calls = fake.calls(TIMELINE)
    assert [c.params["max_results"] for c in calls] == ["100", "100", "100"]
    assert "pagination_token" not in calls[0].params
    assert calls[1].params["pagination_token"] and calls[2].params["pagination_token"]
    assert {"created_at", "author_id"} <= set(calls[0].params["tweet.fields"].split(","))
    with app.sessions() as session:
        tweet = session.scalars(select(Tweet)).first()
        assert tweet.source == "x" and tweet.author == "ada" and tweet.tweeted_at is not None


def test_second_run_reads_only_new_posts(app: App, fake: FakeX) -> None:
    old = fake.add_tweets("ada", [f"old post {i}" for i in range(30)])
    collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    fake.add_tweets("ada", ["new post one", "new post two"])
    report = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    assert (report.reads, report.stored) == (2, 2)
    assert fake.calls(TIMELINE)[-1].params["since_id"] == old[-1]
    assert len(stored_texts(app)) == 32


def test_a_run_stopped_by_the_budget_leaves_no_gap_and_reads_nothing_twice(
    app: App, fake: FakeX
) -> None:
    fake.add_tweets("ada", [f"early post {i}" for i in range(30)])
    first = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 12)
    assert first.budget_reached and first.reads == 12
    fake.add_tweets("ada", [f"late post {i}" for i in range(5)])
    second = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    assert second.filling_gap and second.reads == 18  # the 18 older posts the first run left
    third = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    assert not third.filling_gap and third.reads == 5  # then only the new ones
    fourth = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    assert fourth.reads == 0
    assert len(stored_texts(app)) == 35


def test_dropped_posts_are_not_read_again(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", ["RT @bob: a retweet nowbot drops", "a post of her own"])
    collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    fake.add_tweets("ada", ["RT @bob: the newest post is dropped too"])
    report = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100)
    assert report.reads == 1  # only the new retweet, not the older one again
    assert collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100).reads == 0


def test_each_source_has_its_own_cursor(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", [f"ada on rendering {i}" for i in range(3)])
    fake.add_tweets("bob", ["bob on #siggraphNOW"])  # newer than all of ada's posts
    collect(app.sessions, client_for(fake), "campaign", Source("query", "#siggraphNOW"), 100)
    report = collect(app.sessions, client_for(fake), "campaign", Source("user", "ada"), 100)
    assert report.reads == 3  # the search's newer cursor does not hide ada's timeline


def test_server_errors_are_retried_with_backoff(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", [f"post {i}" for i in range(20)])
    fake.fail(TIMELINE, 503, times=2)
    sleeps, policy = recorded_sleeps()
    report = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100, policy,
                     sleep=sleeps.append)
    assert report.stored == 20
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0
    assert [c.status for c in fake.calls(TIMELINE)] == [503, 503, 200]


def test_persistent_server_errors_stop_and_keep_earlier_pages(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", [f"post {i}" for i in range(250)])
    fake.fail(TIMELINE, 503, times=5, after=1)
    sleeps, policy = recorded_sleeps()
    with pytest.raises(XUnavailableError) as caught:
        collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 500, policy,
                sleep=sleeps.append)
    message = str(caught.value)
    assert "503 Service Unavailable" in message and "after 3 attempts" in message
    assert "100 posts stored" in message and "\n" not in message
    assert len(stored_texts(app)) == 100


def test_rate_limit_within_cap_waits_for_the_reset(app: App, fake: FakeX) -> None:
    fake.add_tweets("ada", [f"post {i}" for i in range(20)])
    fake.fail(TIMELINE, 429, reset_in=30)
    sleeps: list[float] = []
    report = collect(app.sessions, client_for(fake), "ada", Source("user", "ada"), 100,
                     RetryPolicy(max_wait_s=60), sleep=sleeps.append)
    assert report.stored == 20 and report.retry_at is None
    assert len(sleeps) == 1 and 28 <= sleeps[0] <= 32


def test_unknown_user_is_a_clear_error(app: App, fake: FakeX) -> None:
    with pytest.raises(CollectionError, match="X has no user @nobody"):
        collect(app.sessions, client_for(fake), "ada", Source("user", "nobody"), 100)


def test_cli_rate_limit_short_reset_is_honoured(run_cli, app: App, fake: FakeX) -> None:  # type: ignore[no-untyped-def]
    fake.add_tweets("ada", [f"post {i}" for i in range(20)])
    fake.fail(TIMELINE, 429, reset_in=1)
    result = run_cli("corpus", "collect", "ada", "--user", "ada", "--yes", "--max-wait", "30")
    assert result.exit_code == 0, result.output
    assert "read 20 posts in 1 pages" in result.stdout
    assert [c.status for c in fake.calls(TIMELINE)] == [429, 200]
    assert len(stored_texts(app)) == 20


def test_cli_rate_limit_beyond_cap_stops_cleanly_keeping_pages(run_cli, app: App, fake: FakeX) -> None:  # type: ignore[no-untyped-def]
    fake.add_tweets("ada", [f"post {i}" for i in range(250)])
    fake.fail(TIMELINE, 429, after=1, reset_in=3600)
    result = run_cli("corpus", "collect", "ada", "--user", "ada", "--yes", "--max-wait", "5")
    assert result.exit_code == 0, result.output
    assert "rate limit" in result.stdout and "retry after" in result.stdout
    assert len(stored_texts(app)) == 100


def test_cli_read_budget_stops_and_shows_the_cost(run_cli, app: App, fake: FakeX) -> None:  # type: ignore[no-untyped-def]
    fake.add_tweets("ada", [f"post {i}" for i in range(30)])
    result = run_cli("corpus", "collect", "ada", "--user", "ada", "--max-reads", "12", "--yes")
    assert result.exit_code == 0, result.output
    assert "at most 12 posts, estimated cost at most $0.06" in result.stdout
    assert "read 12 posts" in result.stdout and "stopped at the read budget" in result.stdout
    assert [c.params["max_results"] for c in fake.calls(TIMELINE)] == ["12"]
    assert len(stored_texts(app)) == 12


def test_cli_budget_defaults_to_setting_and_asks_first(run_cli, app: App, fake: FakeX,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOWBOT_X_READ_BUDGET", "40")
    fake.add_tweets("ada", ["a post"])
    result = run_cli("corpus", "collect", "ada", "--user", "ada", input="n\n")
    assert result.exit_code == 1
    assert "at most 40 posts, estimated cost at most $0.20" in result.stdout
    assert fake.calls(TIMELINE) == [] and stored_texts(app) == []


def test_cli_query_collects_matching_posts_from_any_author(run_cli, app: App, fake: FakeX) -> None:  # type: ignore[no-untyped-def]
    fake.add_tweets("ada", ["Rendering talk at #siggraphNOW", "lunch"])
    fake.add_tweets("grace", ["Meet us at #siggraphNOW booth", "RT @ada: Rendering talk at #siggraphNOW"])
    result = run_cli("corpus", "collect", "conf", "--query", "#siggraphNOW", "--yes")
    assert result.exit_code == 0, result.output
    assert "read 3 posts in 1 pages; kept 2 (2 new), dropped 1 (retweet 1)" in result.stdout
    with app.sessions() as session:
        rows = session.execute(select(Tweet.author, Tweet.text).order_by(Tweet.source_id)).all()
    assert rows == [("ada", "Rendering talk at #siggraphNOW"), ("grace", "Meet us at #siggraphNOW booth")]
    assert fake.calls(SEARCH)[0].params["query"] == "#siggraphNOW"


def test_cli_bad_token_is_a_one_line_error(run_cli, fake: FakeX, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOWBOT_X_BEARER_TOKEN", "wrong-token-value")
    result = run_cli("corpus", "collect", "ada", "--user", "ada", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: X rejected the credentials (401 Unauthorized)")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wrong-token-value" not in result.output


def test_cli_missing_token_names_the_setting(run_cli, fake: FakeX, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NOWBOT_X_BEARER_TOKEN")
    result = run_cli("corpus", "collect", "ada", "--user", "ada", "--yes")
    assert result.exit_code == 1
    assert "NOWBOT_X_BEARER_TOKEN" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert fake.requests == []


def test_cli_needs_exactly_one_source(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("corpus", "collect", "ada", "--yes")
    assert result.exit_code == 2 and "exactly one of --user or --query" in result.output



def test_cli_query_rejected_by_x_is_a_one_line_error(run_cli, fake: FakeX) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("corpus", "collect", "conf", "--query", " ", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: X refused the request (400 Bad Request): The `query` query parameter can not be empty"
    )
