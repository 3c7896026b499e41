"""Whether a failed HTTP request can have reached the server, for the clients platforms use
(`requests` under tweepy and Mastodon.py, `httpx` under atproto)."""

from __future__ import annotations

import httpx
import requests
from urllib3.exceptions import NewConnectionError


def never_sent(error: BaseException | None) -> bool:
    """True when the request cannot have reached the server (no connection was made). An
    `SSLError` is not among them: urllib3 raises it after the request went out too."""
    if isinstance(error, (requests.ConnectTimeout, httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        return isinstance(getattr(error.args[0], "reason", None), NewConnectionError)
    return False
