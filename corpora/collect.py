"""Collecting a persona's posts from the X API v2 with tweepy: paged, resumable and budgeted.

X bills every post read, so a run reads at most `max_reads` posts and each source (a timeline or a
search) keeps a cursor per persona (`storage.corpus.CollectionCursor`): a run reads only posts it
has not read before, and a run that stopped early leaves a gap that the next run fills first, so
nothing is skipped and nothing is billed twice. Each page is stored in its own transaction as it
arrives: an error later in the run loses nothing already read. Rate limits (429) are waited out
up to `RetryPolicy.max_wait_s`; server errors (5xx) and network errors are retried with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import requests
import tweepy
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from corpora.cleaning import CleanOptions, CleanReport, clean
from corpora.errors import CollectionError, XCredentialsError, XUnavailableError
from corpora.ingest import get_or_create_persona, newest_post_id, store_tweets
from corpora.records import RawTweet
from storage.corpus import CollectionCursor

log = logging.getLogger(__name__)

TOKEN_SETTING = "NOWBOT_X_BEARER_TOKEN"
PAGE_MAX = 100
PAGE_MIN = {"user": 5, "query": 10}  # the smallest `max_results` each endpoint accepts
TWEET_FIELDS = ["created_at", "author_id", "referenced_tweets"]
RETRYABLE = (tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout)


@dataclass(frozen=True)
class Source:
    """What to read: a user's timeline (`kind="user"`, a handle) or a recent search (a query)."""

    kind: Literal["user", "query"]
    value: str

    def __post_init__(self) -> None:
        if self.kind == "user":
            object.__setattr__(self, "value", self.value.lstrip("@"))

    def __str__(self) -> str:
        return f"@{self.value}" if self.kind == "user" else repr(self.value)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait out rate limits and how hard to retry failing requests."""

    max_wait_s: float = 900.0  # longest total wait for rate-limit resets per request
    attempts: int = 4  # tries per request on 5xx and network errors
    backoff_s: float = 2.0  # first wait between tries, doubled each time (capped at 60 s)


@dataclass
class CollectReport:
    """What one run read, stored and dropped, and why it stopped early (if it did)."""

    reads: int = 0
    pages: int = 0
    stored: int = 0
    cleaning: CleanReport = field(default_factory=CleanReport)
    budget_reached: bool = False
    filling_gap: bool = False  # this run read posts an earlier, interrupted run left unread
    retry_at: datetime | None = None  # set when a rate limit outlasted the wait cap

    def cost_usd(self, per_read: float) -> float:
        """Estimated bill for the posts read (X bills per post returned)."""
        return self.reads * per_read


class _RateLimited(Exception):
    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"rate limited until {retry_at:%H:%M:%S} UTC")
        self.retry_at = retry_at


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout (tweepy sets none, so a stalled connection would hang)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        return super().send(request, **kwargs)


def make_client(bearer_token: str | None, timeout_s: float = 30.0) -> tweepy.Client:
    """An app-only X client; rate limits are handled by `collect`, not by sleeping in tweepy."""
    if not bearer_token:
        raise XCredentialsError(f"no X bearer token configured: set {TOKEN_SETTING}")
    client = tweepy.Client(bearer_token=bearer_token, wait_on_rate_limit=False)
    client.session.mount("https://", _TimeoutAdapter(timeout_s))
    return client


class _Caller:
    """Calls one X endpoint, waiting out rate limits and retrying server and network errors."""

    def __init__(self, policy: RetryPolicy, sleep: Callable[[float], None], clock: Callable[[], float]):
        self.policy, self.sleep, self.clock = policy, sleep, clock

    def __call__(self, method: Callable[..., Any], **params: Any) -> Any:
        waited = 0.0
        while True:
            try:
                return self._with_retries(method, params)
            except tweepy.TooManyRequests as error:
                reset = error.reset_time or self.clock() + 60
                wait = max(reset - self.clock(), 0) + 1
                if waited + wait > self.policy.max_wait_s:
                    raise _RateLimited(datetime.fromtimestamp(reset, timezone.utc)) from None
                log.warning("X rate limit reached; waiting %.0f s for the reset", wait)
                self.sleep(wait)
                waited += wait
            except RETRYABLE as error:
                raise XUnavailableError(
                    f"X kept failing ({_describe(error)}) after {self.policy.attempts} attempts"
                ) from None
            except (tweepy.Unauthorized, tweepy.Forbidden) as error:
                said = _detail(error)
                said = f" ({said})" if said and said != error.response.reason else ""
                raise XCredentialsError(
                    f"X rejected the credentials ({_describe(error)}){said}:"
                    f" check {TOKEN_SETTING} and the app's access level"
                ) from None
            except tweepy.HTTPException as error:
                said = _detail(error)
                raise CollectionError(
                    f"X refused the request ({_describe(error)})" + (f": {said}" if said else "")
                ) from None

    def _with_retries(self, method: Callable[..., Any], params: dict[str, Any]) -> Any:
        retrying = Retrying(
            retry=retry_if_exception_type(RETRYABLE),
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential(multiplier=self.policy.backoff_s, max=60),
            sleep=self.sleep,
            before_sleep=lambda state: log.warning(
                "X request failed (%s); retrying", _describe(state.outcome.exception())
            ),
            reraise=True,
        )
        return retrying(method, **params)


def _detail(error: tweepy.HTTPException) -> str:
    """The first line of X's own explanation, if it gave one."""
    return next(iter(error.api_messages), "").split("\n")[0]


def _describe(error: BaseException | None) -> str:
    if isinstance(error, tweepy.HTTPException):
        return f"{error.response.status_code} {error.response.reason}"
    return type(error).__name__


@dataclass(frozen=True)
class _Window:
    """The ids one run reads between (both exclusive; None is unbounded)."""

    since_id: str | None
    until_id: str | None


PageReader = Callable[[int, str | None, _Window], Any]


def _page_reader(client: tweepy.Client, source: Source, call: _Caller) -> PageReader:
    """A function reading one page: (max_results, page token, window) -> tweepy Response."""
    if source.kind == "query":
        def read(size: int, token: str | None, window: _Window) -> Any:
            return call(client.search_recent_tweets, query=source.value, max_results=size,
                        next_token=token, since_id=window.since_id, until_id=window.until_id,
                        tweet_fields=TWEET_FIELDS, expansions=["author_id"],
                        user_fields=["username"])
        return read
    found = call(client.get_user, username=source.value)
    if found.data is None:
        raise CollectionError(f"X has no user {source}")
    user_id = found.data.id

    def read_timeline(size: int, token: str | None, window: _Window) -> Any:
        return call(client.get_users_tweets, id=user_id, max_results=size, pagination_token=token,
                    since_id=window.since_id, until_id=window.until_id, tweet_fields=TWEET_FIELDS)
    return read_timeline


def _open_window(sessions: sessionmaker[Session], persona: str, source: Source) -> _Window:
    """Where this run reads: the gap an interrupted run left, else everything not read yet.

    A timeline's first run starts after the newest stored post of that user (an imported archive
    is not read again); a search's first run reads what X still serves.
    """
    with sessions.begin() as session:
        owner = get_or_create_persona(session, persona)
        cursor = _cursor(session, owner.id, source)
        if cursor is None:
            start = newest_post_id(session, owner, source.value) if source.kind == "user" else None
            cursor = CollectionCursor(persona_id=owner.id, source=_key(source), newest_id=start)
            session.add(cursor)
        return _Window(cursor.newest_id, cursor.gap_until_id)


def _key(source: Source) -> str:
    return f"{source.kind}:{source.value}"


def _cursor(session: Session, persona_id: int, source: Source) -> CollectionCursor | None:
    return session.scalar(
        select(CollectionCursor).where(
            CollectionCursor.persona_id == persona_id, CollectionCursor.source == _key(source)
        )
    )


def _advance(sessions: sessionmaker[Session], persona: str, source: Source, window: _Window,
             ids: list[int], complete: bool) -> None:
    """Record how far this run read: all of its window (`complete`), or only the ids in `ids`."""
    with sessions.begin() as session:
        cursor = _cursor(session, get_or_create_persona(session, persona).id, source)
        assert cursor is not None  # created by _open_window
        filling_gap = window.until_id is not None
        if complete:
            newest = cursor.pending_newest_id if filling_gap else max(ids, default=None)
            if newest is not None:
                cursor.newest_id = str(newest)
            cursor.pending_newest_id = cursor.gap_until_id = None
        elif ids:
            if not filling_gap:
                cursor.pending_newest_id = str(max(ids))
            cursor.gap_until_id = str(min(ids))


def _records(response: Any, source: Source) -> list[RawTweet]:
    users = {user.id: user.username for user in (response.includes or {}).get("users", [])}
    return [
        RawTweet(
            text=tweet.text, source_id=str(tweet.id), created_at=tweet.created_at,
            author=source.value if source.kind == "user" else users.get(tweet.author_id),
            is_reply=any(ref.type == "replied_to" for ref in tweet.referenced_tweets or []),
            place=f"X post {tweet.id}",
        )
        for tweet in response.data or []
    ]


def _store_page(sessions: sessionmaker[Session], persona: str, records: list[RawTweet],
                report: CollectReport) -> None:
    kept, cleaning = clean(records, CleanOptions())
    with sessions.begin() as session:
        report.stored += store_tweets(session, get_or_create_persona(session, persona), kept).added
    report.cleaning.merge(cleaning)


def collect(
    sessions: sessionmaker[Session],
    client: tweepy.Client,
    persona: str,
    source: Source,
    max_reads: int,
    policy: RetryPolicy = RetryPolicy(),
    on_page: Callable[[CollectReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> CollectReport:
    """Read new posts from `source` into `persona`'s corpus, at most `max_reads` posts this run.

    Stops cleanly (returning the report) at the budget or when a rate limit outlasts the cap;
    raises `CollectionError` subclasses for bad credentials or a persistently failing X, after
    storing every page read before the failure.
    """
    smallest = PAGE_MIN[source.kind]
    if max_reads < smallest:
        raise CollectionError(
            f"read budget {max_reads} is below the smallest page X serves here ({smallest} posts)"
        )
    window = _open_window(sessions, persona, source)
    report = CollectReport(filling_gap=window.until_id is not None)
    call = _Caller(policy, sleep, clock)
    token: str | None = None
    read_ids: list[int] = []
    complete = False
    try:
        read_page = _page_reader(client, source, call)
        while True:
            remaining = max_reads - report.reads
            if remaining < smallest:
                report.budget_reached = True
                break
            response = read_page(min(PAGE_MAX, remaining), token, window)
            records = _records(response, source)
            report.pages += 1
            report.reads += len(records)
            _store_page(sessions, persona, records, report)
            read_ids += [int(record.source_id) for record in records if record.source_id]
            log.debug("page %d from %s: %d posts, %d stored", report.pages, source, len(records),
                     report.stored)
            if on_page:
                on_page(report)
            token = (response.meta or {}).get("next_token")
            if not token:
                complete = True
                break
    except _RateLimited as stop:
        report.retry_at = stop.retry_at
    except XUnavailableError as error:
        raise XUnavailableError(
            f"{error}; the {report.stored} posts stored from {report.pages} earlier pages are kept,"
            " run again later to resume"
        ) from None
    finally:
        _advance(sessions, persona, source, window, read_ids, complete)
    return report
