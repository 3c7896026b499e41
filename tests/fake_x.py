"""A fake X API v2 on 127.0.0.1 for driving the real tweepy client in tests (no pytest needed).

    fake = FakeX(bearer_token="t0ken")          # starts serving on a free port
    fake.add_tweets("ada", ["first", "second"])  # newest last
    client = attach(tweepy.Client(bearer_token="t0ken"), fake)
    ...
    fake.fail("GET /2/users/:id/tweets", 429, reset_in=1)
    fake.stop()

`attach` mounts a transport adapter on the client's `requests` session that sends every
`https://` request to the fake, keeping whatever adapter (timeouts, retries) was mounted before.
Endpoints: GET /2/users/by/username/:username, GET /2/users/:id/tweets, GET /2/tweets/search/recent,
GET /2/users/me, POST /2/tweets, POST /2/media/upload. Auth is checked like X does: a bearer token,
or an OAuth 1.0a signature (HMAC-SHA1, verified against the original https URL) for user context.
Each request is recorded in `requests`; faults queued with `fail` apply to the next matching calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any

from fake_http import Fault, LoopbackServer
from urllib.parse import parse_qsl, urlsplit

import requests
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from requests.adapters import BaseAdapter

ORIGIN = "https://api.twitter.com"
MILLISECOND = timedelta(milliseconds=1)
USER_ONLY = {"GET /2/users/me", "POST /2/tweets", "POST /2/media/upload"}
ROUTES = [
    ("GET", re.compile(r"^/2/users/by/username/(?P<username>\w+)$"), "GET /2/users/by/username/:username"),
    ("GET", re.compile(r"^/2/users/me$"), "GET /2/users/me"),
    ("GET", re.compile(r"^/2/users/(?P<id>\d+)/tweets$"), "GET /2/users/:id/tweets"),
    ("GET", re.compile(r"^/2/tweets/search/recent$"), "GET /2/tweets/search/recent"),
    ("POST", re.compile(r"^/2/tweets$"), "POST /2/tweets"),
    ("POST", re.compile(r"^/2/media/upload$"), "POST /2/media/upload"),
]
PAGE_LIMITS = {"GET /2/users/:id/tweets": (5, 100), "GET /2/tweets/search/recent": (10, 100)}


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it, with the status it answered."""

    method: str
    path: str
    route: str | None
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class _Tweet:
    id: int
    text: str
    author_id: str
    created_at: datetime
    media_ids: list[str] = field(default_factory=list)

    def render(self, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id), "text": self.text, "edit_history_tweet_ids": [str(self.id)],
        }
        if "created_at" in fields:
            data["created_at"] = self.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "author_id" in fields:
            data["author_id"] = self.author_id
        if "attachments" in fields and self.media_ids:
            data["attachments"] = {"media_keys": [f"3_{m}" for m in self.media_ids]}
        return data


class FakeX(LoopbackServer):
    """A running fake X API. State is plain attributes, guarded by `lock` when the server is busy."""

    def __init__(
        self,
        bearer_token: str = "fake-bearer",
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",
        access_token: str = "fake-access-token",
        access_token_secret: str = "fake-access-secret",
        me: str = "nowbot",
    ) -> None:
        self.bearer_token = bearer_token
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: list[_Tweet] = []
        self.posted: list[_Tweet] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(1_800_000_000_000_000_000)
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the newest post's time
        self.me = self.add_user(me)
        self._listen(self.handle, "fake-x")

    # --- state -------------------------------------------------------------------------------

    def add_user(self, username: str) -> dict[str, str]:
        """The user `username`, created if new (`id`, `username`, `name`)."""
        with self.lock:
            key = username.lower()
            if key not in self.users:
                self.users[key] = {"id": str(next(self._ids)), "username": username, "name": username}
            return self.users[key]

    def add_tweets(self, username: str, texts: list[str], ago: timedelta | None = None) -> list[str]:
        """Post `texts` as `username`, oldest first (`ago` before now, if given); returns their
        ids (increasing)."""
        user = self.add_user(username)
        with self.lock:
            start = datetime.now(timezone.utc) - ago if ago is not None else None
            return [str(self._new_tweet(text, user["id"], at=start and start + n * MILLISECOND).id)
                    for n, text in enumerate(texts)]

    def _new_tweet(self, text: str, author_id: str, media_ids: list[str] | None = None,
                   at: datetime | None = None) -> _Tweet:
        # X stamps a post with its own clock: now (strictly increasing, for a stable order).
        if at is None:
            self._clock = at = max(self._clock + MILLISECOND, datetime.now(timezone.utc))
        tweet = _Tweet(next(self._ids), text, author_id, at, media_ids or [])
        self.tweets.append(tweet)
        return tweet

    def fail(self, route: str, status: int | None = None, *, times: int = 1, after: int = 0,
             reset_in: float = 0.0, delay: float = 0.0) -> None:
        """Queue `times` faults for `route` (as in ROUTES, e.g. "POST /2/tweets"), starting after
        `after` more calls to it are served normally."""
        if route not in {name for _, _, name in ROUTES}:
            raise ValueError(f"unknown route {route!r}")
        with self.lock:
            queue = self.faults.setdefault(route, deque())
            queue.extend(Fault() for _ in range(after))
            queue.extend(Fault(status, reset_in, delay) for _ in range(times))

    def calls(self, route: str) -> list[Recorded]:
        """Requests recorded for `route`."""
        with self.lock:
            return [r for r in self.requests if r.route == route]

    # --- serving -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], dict[str, Any], float]:
        """Answer one request: (status, extra headers, JSON body, delay before answering)."""
        split = urlsplit(target)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        route, match = None, None
        for route_method, pattern, name in ROUTES:
            match = pattern.match(split.path)
            if match and route_method == method:
                route = name
                break
        status, extra, payload, delay = self._answer(method, split, params, headers, body, route, match)
        with self.lock:
            self.requests.append(Recorded(method, split.path, route, params, headers, body, status))
        return status, extra, payload, delay

    def _answer(self, method, split, params, headers, body, route, match):  # type: ignore[no-untyped-def]
        if route is None:
            return 404, {}, _problem(404, "Not Found"), 0.0
        with self.lock:
            queued = self.faults.get(route)
            fault = queued.popleft() if queued else None
        if fault and fault.status:
            extra = {}
            if fault.status == 429:
                extra["x-rate-limit-reset"] = str(int(time.time() + fault.reset_in))
                extra["x-rate-limit-remaining"] = "0"
            return fault.status, extra, _problem(fault.status, HTTPStatus(fault.status).phrase), 0.0
        auth_user = self._authenticate(method, split, headers, body)
        if auth_user is None:
            return 401, {}, _problem(401, "Unauthorized"), 0.0
        if auth_user == "app" and route in USER_ONLY:
            return 403, {}, _problem(403, "Unsupported Authentication"), 0.0
        try:
            with self.lock:
                payload = self._serve(route, match, params, headers, body, auth_user)
        except _BadRequest as error:
            return 400, {}, {"errors": [{"message": str(error)}], "title": "Invalid Request",
                             "detail": str(error), "type": "about:blank", "status": 400}, 0.0
        status = 201 if route == "POST /2/tweets" else 200
        return status, {}, payload, fault.delay if fault else 0.0

    def _authenticate(self, method, split, headers, body):  # type: ignore[no-untyped-def]
        """The user a request acts as (`"app"` for a bearer token), or None when rejected."""
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return "app" if authorization[len("Bearer "):] == self.bearer_token else None
        if authorization.startswith("OAuth "):
            return self.me["id"] if self._oauth_valid(method, split, headers, body) else None
        return None

    def _oauth_valid(self, method, split, headers, body) -> bool:  # type: ignore[no-untyped-def]
        oauth = dict(oauth_signature.collect_parameters(headers={"Authorization": headers["authorization"]},
                                                       exclude_oauth_signature=False))
        if oauth.get("oauth_consumer_key") != self.consumer_key or oauth.get("oauth_token") != self.access_token:
            return False
        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        signed = oauth_signature.collect_parameters(
            uri_query=split.query, body=body.decode() if form and body else None,
            headers={"Authorization": headers["authorization"]},
        )
        base = oauth_signature.signature_base_string(
            method, oauth_signature.base_string_uri(ORIGIN + split.path),
            oauth_signature.normalize_parameters(signed),
        )
        key = f"{oauth_utils.escape(self.consumer_secret)}&{oauth_utils.escape(self.access_token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        return oauth_signature.safe_string_equals(expected, oauth.get("oauth_signature", ""))

    def _serve(self, route, match, params, headers, body, auth_user):  # type: ignore[no-untyped-def]
        if route == "GET /2/users/by/username/:username":
            user = self.users.get(match["username"].lower())
            if user is None:
                return {"errors": [{"value": match["username"], "detail": "Could not find user",
                                    "title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
            return {"data": dict(user)}
        if route == "GET /2/users/me":
            return {"data": dict(self.me)}
        if route == "GET /2/users/:id/tweets":
            return self._page(route, params, lambda t: t.author_id == match["id"])
        if route == "GET /2/tweets/search/recent":
            if not params.get("query", "").strip():
                raise _BadRequest("The `query` query parameter can not be empty")
            return self._page(route, params, _query_matcher(params.get("query", ""), self.users))
        if route == "POST /2/tweets":
            return self._create(headers, body, auth_user)
        return self._upload(headers, body)

    def _page(self, route: str, params: dict[str, str], wanted) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        low, high = PAGE_LIMITS[route]
        size = int(params.get("max_results", 10))
        if not low <= size <= high:
            raise _BadRequest(f"The `max_results` query parameter value [{size}] is not between {low} and {high}")
        since = int(params.get("since_id", 0))
        until = int(params.get("until_id", 2**63))
        token = params.get("pagination_token") or params.get("next_token")
        before = int(token[1:]) if token else None
        found = sorted(
            (t for t in self.tweets if wanted(t) and since < t.id < until), key=lambda t: -t.id
        )
        if before is not None:
            found = [t for t in found if t.id < before]
        page, rest = found[:size], found[size:]
        fields = set(params.get("tweet.fields", "").split(","))
        meta: dict[str, Any] = {"result_count": len(page)}
        if not page:
            return {"meta": meta}
        meta.update(newest_id=str(page[0].id), oldest_id=str(page[-1].id))
        if rest:
            meta["next_token"] = f"p{page[-1].id}"
        payload: dict[str, Any] = {"data": [t.render(fields) for t in page], "meta": meta}
        if "author_id" in params.get("expansions", ""):
            by_id = {u["id"]: u for u in self.users.values()}
            authors = {t.author_id for t in page}
            payload["includes"] = {"users": [dict(by_id[a]) for a in sorted(authors) if a in by_id]}
        return payload

    def _create(self, headers: dict[str, str], body: bytes, author_id: str) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        text = request.get("text", "")
        media_ids = [str(m) for m in request.get("media", {}).get("media_ids", [])]
        if not text and not media_ids:
            raise _BadRequest("Post text or media is required")
        if len(text) > 280:
            raise _BadRequest("Post text is longer than 280 characters")
        unknown = [m for m in media_ids if m not in self.media]
        if unknown:
            raise _BadRequest(f"Unknown media ids {unknown}")
        if any(t.author_id == author_id and t.text == text for t in self.posted):
            raise _BadRequest("You are not allowed to create a Tweet with duplicate content.")
        tweet = self._new_tweet(text, author_id, media_ids)
        self.posted.append(tweet)
        return {"data": {"id": str(tweet.id), "text": tweet.text, "edit_history_tweet_ids": [str(tweet.id)]}}

    def _upload(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        fields = _form_fields(headers.get("content-type", ""), body)
        data = fields.get("media")
        if data is None and "media_data" in fields:
            data = base64.b64decode(fields["media_data"])
        if not data:
            raise _BadRequest("media is required")
        media_id = str(next(self._ids))
        category = fields.get("media_category", b"tweet_image")
        self.media[media_id] = {
            "bytes": data, "media_category": category.decode() if isinstance(category, bytes) else category,
        }
        return {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                         "expires_after_secs": 86400, "image": {"image_type": "image/png"}}}


class _BadRequest(Exception):
    pass


def _problem(status: int, title: str) -> dict[str, Any]:
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def _query_matcher(query: str, users: dict[str, dict[str, str]]):  # type: ignore[no-untyped-def]
    """A tiny subset of X search: words/hashtags (all must appear), `-word`, `from:handle`."""
    must, must_not, authors = [], [], []
    for term in query.lower().split():
        if term.startswith("from:"):
            authors.append(users.get(term[5:], {}).get("id", "none"))
        elif term.startswith("-"):
            must_not.append(term[1:])
        else:
            must.append(term)

    def wanted(tweet: _Tweet) -> bool:
        text = tweet.text.lower()
        return (all(w in text for w in must) and not any(w in text for w in must_not)
                and (not authors or tweet.author_id in authors))

    return wanted


def _form_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields of a multipart, urlencoded or JSON body (file parts as bytes)."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    return dict(parse_qsl(body.decode()))


class _Redirect(BaseAdapter):
    """Sends `https://` requests to the fake by rewriting the URL, then uses the wrapped adapter."""

    def __init__(self, inner: BaseAdapter, base_url: str) -> None:
        super().__init__()
        self.inner, self.base_url = inner, base_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        split = urlsplit(request.url)
        request.url = self.base_url + split.path + (f"?{split.query}" if split.query else "")
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def attach(client: Any, fake: FakeX) -> Any:
    """Route `client.session` (a tweepy Client or API, or a requests.Session) to `fake`; returns it."""
    session = client if isinstance(client, requests.Session) else client.session
    inner = session.get_adapter("https://api.twitter.com")
    session.mount("https://", _Redirect(inner, fake.base_url))
    return client
