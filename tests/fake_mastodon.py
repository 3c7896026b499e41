"""A fake Mastodon API on 127.0.0.1 that the real Mastodon.py client talks to (no pytest needed).

    fake = FakeMastodon(token="t0ken")            # serving on a free port
    api = Mastodon(api_base_url=fake.base_url, access_token="t0ken")
    fake.fail("POST /api/v1/statuses", 429, reset_in=60)
    fake.stop()

It answers version discovery (`/api/v1/instance`, `/api/v2/instance`: 4.3.0), `verify_credentials`,
`POST /api/v2/media` (202, `url` null until `processing_polls` reads of `GET /api/v1/media/:id`,
which answer 206 meanwhile), `POST /api/v1/statuses` (500 characters; an `Idempotency-Key` seen
before returns the status it made) and the account's statuses newest first (`limit` up to 40,
`max_id`); with `key_lifetime` (seconds) a key is forgotten that long after the status it made,
as servers forget theirs after about an hour. A bearer token other than `token` gets 401. Faults
queued with `fail` apply to the next matching calls: an error status (429 carries
`X-RateLimit-Reset` = now + `reset_in` and `X-RateLimit-Remaining: 0`), or `status=None` with
`delay`: served (the status is created), then answered `delay` seconds late.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fake_http import Fault, LoopbackServer
from urllib.parse import parse_qsl, urlsplit

ROUTES = [
    ("GET", re.compile(r"^/api/v1/instance/?$"), "GET /api/v1/instance"),
    ("GET", re.compile(r"^/api/v2/instance/?$"), "GET /api/v2/instance"),
    ("GET", re.compile(r"^/api/v1/accounts/verify_credentials$"), "GET /api/v1/accounts/verify_credentials"),
    ("GET", re.compile(r"^/api/v1/accounts/(?P<id>\d+)/statuses$"), "GET /api/v1/accounts/:id/statuses"),
    ("POST", re.compile(r"^/api/v2/media$"), "POST /api/v2/media"),
    ("GET", re.compile(r"^/api/v1/media/(?P<id>\d+)$"), "GET /api/v1/media/:id"),
    ("POST", re.compile(r"^/api/v1/statuses$"), "POST /api/v1/statuses"),
]
PUBLIC = {"GET /api/v1/instance", "GET /api/v2/instance"}
LIMIT = 500


@dataclass(frozen=True)
class Recorded:
    method: str
    route: str | None
    headers: dict[str, str]
    fields: dict[str, Any]
    status: int


class FakeMastodon(LoopbackServer):
    """A running fake Mastodon server; state is plain attributes guarded by `lock`."""

    def __init__(self, token: str = "fake-mastodon-token", processing_polls: int = 1,
                 key_lifetime: float | None = None) -> None:
        self.token, self.processing_polls, self.key_lifetime = token, processing_polls, key_lifetime
        self.lock = threading.RLock()
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}  # Idempotency-Key -> status id
        self.key_times: dict[str, float] = {}  # Idempotency-Key -> when (time.monotonic())
        self.requests: list[Recorded] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(110_000_000_000_000_000)
        self._listen(self.handle, "fake-mastodon")
        self.account = {"id": "109000000000000001", "username": "nowbot", "acct": "nowbot",
                        "display_name": "nowbot", "url": f"{self.base_url}/@nowbot",
                        "created_at": "2026-01-01T00:00:00.000Z", "note": "", "bot": True}

    def fail(self, route: str, status: int | None = None, *, times: int = 1, reset_in: float = 0.0,
             delay: float = 0.0) -> None:
        """Queue `times` faults for `route` (as in ROUTES, e.g. "POST /api/v1/statuses")."""
        if route not in {name for _, _, name in ROUTES}:
            raise ValueError(f"unknown route {route!r}")
        with self.lock:
            self.faults.setdefault(route, deque()).extend(Fault(status, reset_in, delay) for _ in range(times))

    def calls(self, route: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def add_status(self, text: str, created_at: datetime | None = None) -> dict[str, Any]:
        """A status the account posted (as the server renders it: HTML content)."""
        with self.lock:
            status_id = str(next(self._ids))
            status = {
                "id": status_id, "uri": f"{self.base_url}/users/nowbot/statuses/{status_id}",
                "url": f"{self.base_url}/@nowbot/{status_id}",
                "created_at": (created_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "content": f"<p>{html.escape(text, quote=False)}</p>", "visibility": "public",
                "account": self.account, "media_attachments": [], "text_sent": text,
            }
            self.statuses.append(status)
            return status

    # --- serving -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], Any, float]:
        split = urlsplit(target)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        route, match = None, None
        for route_method, pattern, name in ROUTES:
            match = pattern.match(split.path)
            if match and method == route_method:
                route = name
                break
        fields = {**params, **_fields(headers.get("content-type", ""), body)}
        status, extra, payload, delay = self._answer(route, match, headers, fields)
        with self.lock:
            self.requests.append(Recorded(method, route, headers, fields, status))
        return status, extra, payload, delay

    def _answer(self, route, match, headers, fields):  # type: ignore[no-untyped-def]
        if route is None:
            return 404, {}, {"error": "Record not found"}, 0.0
        with self.lock:
            queued = self.faults.get(route)
            fault = queued.popleft() if queued else None
        if fault and fault.status:
            extra = {}
            if fault.status == 429:
                reset = datetime.now(UTC) + timedelta(seconds=fault.reset_in)
                extra = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                         "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            return fault.status, extra, {"error": f"fake fault {fault.status}"}, 0.0
        if route not in PUBLIC and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"error": "The access token is invalid"}, 0.0
        with self.lock:
            status, payload = self._serve(route, match, headers, fields)
        return status, {}, payload, fault.delay if fault else 0.0

    def _serve(self, route, match, headers, fields):  # type: ignore[no-untyped-def]
        if route == "GET /api/v1/instance":
            return 200, {"uri": "127.0.0.1", "title": "fake", "version": "4.3.0", "urls": {}}
        if route == "GET /api/v2/instance":
            return 200, {"domain": "127.0.0.1", "title": "fake", "version": "4.3.0",
                         "api_versions": {"mastodon": 2}}
        if route == "GET /api/v1/accounts/verify_credentials":
            return 200, self.account
        if route == "GET /api/v1/accounts/:id/statuses":
            mine = sorted(self.statuses, key=lambda s: -int(s["id"]))
            if "max_id" in fields:
                mine = [s for s in mine if int(s["id"]) < int(fields["max_id"])]
            return 200, [_public(s) for s in mine[: min(int(fields.get("limit", 20)), 40)]]
        if route == "POST /api/v2/media":
            if not fields.get("file"):
                return 422, {"error": "Validation failed: File can't be blank"}
            media_id = str(next(self._ids))
            self.media[media_id] = {"id": media_id, "type": "image", "url": None, "preview_url": None,
                                    "description": fields.get("description"), "bytes": fields["file"],
                                    "polls": 0}
            return 202, _public(self.media[media_id])
        if route == "GET /api/v1/media/:id":
            media = self.media.get(match["id"])
            if media is None:
                return 404, {"error": "Record not found"}
            media["polls"] += 1
            if media["polls"] >= self.processing_polls:
                media["url"] = f"{self.base_url}/media/{media['id']}.png"
                return 200, _public(media)
            return 206, _public(media)
        return self._create(headers, fields)

    def _create(self, headers: dict[str, str], fields: dict[str, Any]) -> tuple[int, Any]:
        key = headers.get("idempotency-key")
        if key and self.key_lifetime is not None and key in self.keys and (
                time.monotonic() - self.key_times[key] > self.key_lifetime):
            del self.keys[key]  # forgotten: the same key makes a new status
        if key and key in self.keys:
            return 200, _public(next(s for s in self.statuses if s["id"] == self.keys[key]))
        text = fields.get("status", "")
        media_ids = fields.get("media_ids[]") or fields.get("media_ids") or []
        media_ids = [media_ids] if isinstance(media_ids, str) else list(media_ids)
        if not text and not media_ids:
            return 422, {"error": "Validation failed: Text can't be blank"}
        if len(text) > LIMIT:
            return 422, {"error": f"Validation failed: Text character limit of {LIMIT} exceeded"}
        if any(m not in self.media or self.media[m]["url"] is None for m in media_ids):
            return 422, {"error": "Cannot attach files that have not finished processing"}
        status = self.add_status(text)
        status["media_attachments"] = [_public(self.media[m]) for m in media_ids]
        if key:
            self.keys[key], self.key_times[key] = status["id"], time.monotonic()
        return 200, _public(status)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("bytes", "polls", "text_sent")}


def _fields(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart, urlencoded or JSON body's fields (repeated `name[]` fields as lists)."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        found: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            found[name] = data if part.get_filename() else data.decode()
        return found
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    found = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        if name.endswith("[]"):
            found.setdefault(name, []).append(value)
        else:
            found[name] = value
    return found
