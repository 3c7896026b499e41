"""The HTTP layer under the platforms' clients (`requests` under tweepy and Mastodon.py, `httpx`
under atproto): whether a failed request can have reached the server, and a total deadline for
one delivery that every request made meanwhile keeps (connect, read and the client's own retries
together).

`deadline(seconds)` sets the deadline for the calls made inside it (in this thread or task);
`DeadlineSession` (requests) and `DeadlineTransport` (httpx) shorten each request's timeouts to
the time left, and refuse to start one once none is left, with an error that says it was never
sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx
import requests
from urllib3.exceptions import NewConnectionError

_DEADLINE: ContextVar[float | None] = ContextVar("nowbot_deadline", default=None)


class DeadlinePassed(requests.ConnectTimeout):
    """A request not started because the delivery's deadline had passed (so never sent)."""


class HttpxDeadlinePassed(httpx.ConnectTimeout):
    """`DeadlinePassed`, as atproto's `httpx` client raises it."""


def never_sent(error: BaseException | None) -> bool:
    """True when the request cannot have reached the server (no connection was made). An
    `SSLError` is not among them: urllib3 raises it after the request went out too."""
    if isinstance(error, (requests.ConnectTimeout, httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        return isinstance(getattr(error.args[0], "reason", None), NewConnectionError)
    return False


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Give the requests made inside this block `seconds` in all (a deadline already set
    outside, if sooner, still holds)."""
    until = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(until if outer is None else min(outer, until))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline (None: no deadline is set)."""
    until = _DEADLINE.get()
    return None if until is None else until - time.monotonic()


def _capped(timeout: float | None) -> float | None:
    """`timeout` shortened to the time left; `None` (no limit) when neither sets one."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise DeadlinePassed("the delivery's deadline passed before this request")
    return left if timeout is None else min(timeout, left)


class DeadlineSession(requests.Session):
    """A `requests` session whose requests time out after `timeout` seconds (tweepy and
    Mastodon.py set none of their own, or a fixed one) or at the deadline, whichever is first."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        given = kwargs.get("timeout")
        kwargs["timeout"] = _capped(given if isinstance(given, (int, float)) else self.timeout)
        return super().request(*args, **kwargs)


class DeadlineTransport(httpx.HTTPTransport):
    """An `httpx` transport whose requests' timeouts are shortened to the deadline."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = dict(request.extensions.get("timeout", {}))
        try:
            for name in ("connect", "read", "write", "pool"):
                timeouts[name] = _capped(timeouts.get(name))
        except DeadlinePassed as error:
            raise HttpxDeadlinePassed(str(error), request=request) from None
        request.extensions["timeout"] = timeouts
        return super().handle_request(request)
