"""Who may use the dashboard: requests must name it by an expected `Host` (no DNS rebinding),
forms must be posted from its own pages (no cross-site posts, no framing by another site), and
with a password set a person logs in first. The password is kept only as a salted scrypt hash,
checked in a thread with no lock, so one client's guesses never queue another's login; wrong
guesses are limited per client address and for the account (`LoginLimits`). Sessions are random
tokens held by this process, so a restart logs everyone out. Behind a reverse proxy
(`NOWBOT_DASHBOARD_BEHIND_PROXY`) the client is the address the proxy appended to
`X-Forwarded-For` and `X-Forwarded-Proto: https` makes the session cookie `Secure`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import hdrs, web
from pydantic import SecretStr

from bot.dashboard.keys import RUNTIME

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})
OPEN_PATHS = frozenset({"/healthz", "/login"})  # reachable without logging in
OPEN_PREFIX = "/static/"  # the style sheet and script: no data in them
# No other site may show our pages in a frame and have a person click on them.
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
COOKIE = "nowbot_session"
SESSION_SECONDS = 12 * 3600
# Wrong passwords: an address may send FREE_GUESSES, then waits FIRST_WAIT_S, doubling with each
# further wrong one up to LONGEST_WAIT_S; after FORGET_S without a guess it starts afresh. While the
# account drew ACCOUNT_GUESSES wrong ones within FORGET_S (guesses spread over many addresses),
# every address waits after its first wrong one: an address that never guessed wrong still tries.
FREE_GUESSES = 5
FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 15 * 60.0
FORGET_S = 3600.0
ACCOUNT_GUESSES = 50
TRACKED_ADDRESSES = 100_000  # the oldest is forgotten past this (memory stays bounded)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether listening on `host` reaches only this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _is_wildcard(host: str) -> bool:
    """Whether `host` means every interface (loopback included)."""
    try:
        return not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """`host` as a `Host` header writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host.lower()


class PasswordHash:
    """A password kept only as a salted scrypt hash."""

    def __init__(self, password: SecretStr) -> None:
        self._salt = secrets.token_bytes(16)
        self._digest = self._hash(password.get_secret_value())

    def _hash(self, password: str) -> bytes:
        return hashlib.scrypt(password.encode(), salt=self._salt, n=2**14, r=8, p=1)

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(self._hash(password), self._digest)


def client_key(address: str | None) -> str:
    """What a client's wrong passwords are counted under: its IPv4 address, or its IPv6 /64 (one
    home or host holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Guesses:
    wrong: int = 0  # wrong passwords, each try counted from its start until it proves right
    last: float = 0.0  # when the newest try began (monotonic)


class LoginLimits:
    """Wrong passwords per client address and for the account (see `FREE_GUESSES`). A try counts as
    wrong from its start, so parallel guesses from one address cannot slip past the count."""

    def __init__(self) -> None:
        self._clients: OrderedDict[str, _Guesses] = OrderedDict()  # least recent try first
        self._account: deque[float] = deque(maxlen=ACCOUNT_GUESSES)  # the newest wrong ones' times

    def _forget(self, now: float) -> None:
        while self._clients:
            oldest = next(iter(self._clients.values()))
            if oldest.last > now - FORGET_S and len(self._clients) <= TRACKED_ADDRESSES:
                return
            self._clients.popitem(last=False)

    def begin(self, client: str) -> float:
        """Seconds `client` must wait before it may try; 0 when it may (the try now counts as wrong
        until `right` says otherwise)."""
        now = time.monotonic()
        self._forget(now)
        guesses = self._clients.setdefault(client, _Guesses())
        under_attack = len(self._account) == ACCOUNT_GUESSES and self._account[0] > now - FORGET_S
        beyond = guesses.wrong - (1 if under_attack else FREE_GUESSES)
        if beyond >= 0:  # 2**30 s is past any wait
            until = guesses.last + min(LONGEST_WAIT_S, FIRST_WAIT_S * 2.0 ** min(beyond, 30))
            if until > now:
                return until - now
        self._clients.move_to_end(client)
        guesses.wrong, guesses.last = guesses.wrong + 1, now
        return 0.0

    def wrong(self) -> None:
        """A try proved wrong: the account counts it too."""
        self._account.append(time.monotonic())

    def right(self, client: str) -> None:
        """A try proved right: `client` starts afresh."""
        self._clients.pop(client, None)


class Access:
    """The dashboard's access rules for one bind address, and its logged-in sessions."""

    def __init__(self, host: str, extra_hosts: frozenset[str], password: SecretStr | None) -> None:
        names = set(LOOPBACK_NAMES) if is_loopback(host) or _is_wildcard(host) else set()
        if not _is_wildcard(host):
            names.add(_host_name(host))
        self._names = frozenset(names)  # served at the listening port
        self._extra_hosts = extra_hosts  # full `Host` values, from NOWBOT_DASHBOARD_ALLOWED_HOSTS
        self.password = PasswordHash(password) if password is not None else None
        self._sessions: dict[str, float] = {}  # token -> when it expires (monotonic)
        self.limits = LoginLimits()

    def _hosts(self, request: web.Request) -> frozenset[str]:
        """The `Host` values this request may carry: the names at the port it came in on."""
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if not sockname:
            return self._extra_hosts
        return self._extra_hosts | {f"{name}:{sockname[1]}" for name in self._names}

    def _from_here(self, request: web.Request, hosts: frozenset[str]) -> bool:
        """Whether a form was posted from one of our pages (`Origin`, else `Referer`)."""
        source = request.headers.get(hdrs.ORIGIN) or request.headers.get(hdrs.REFERER)
        if not source:
            return False
        try:
            url = urlsplit(source)
        except ValueError:
            return False
        return url.scheme in ("http", "https") and url.netloc.lower() in hosts

    def signed_in(self, request: web.Request) -> bool:
        """Whether the request needs no login or carries a live session cookie."""
        if self.password is None:
            return True
        expires = self._sessions.get(request.cookies.get(COOKIE, ""))
        return expires is not None and expires > time.monotonic()

    async def log_in(self, client: str, password: str) -> str | None:
        """A new session token for the right password, None for a wrong one; `client` first
        passed `limits.begin`. The hash runs in a thread, unserialised: one client's guesses do
        not hold up another's login."""
        hashed = self.password
        if hashed is None or not await asyncio.to_thread(hashed.matches, password):
            self.limits.wrong()
            return None
        self.limits.right(client)
        now = time.monotonic()
        self._sessions = {token: ends for token, ends in self._sessions.items() if ends > now}
        token = secrets.token_urlsafe(32)
        self._sessions[token] = now + SESSION_SECONDS
        return token

    def log_out(self, request: web.Request) -> None:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse a wrong `Host`, a cross-site post, and anything but the open pages before login;
        forbid framing. Behind a proxy, the handler sees the client's address and scheme."""
        if request.app[RUNTIME].app.settings.dashboard_behind_proxy:
            request = _forwarded(request)
        hosts = self._hosts(request)
        if request.headers.get(hdrs.HOST, "").lower() not in hosts:
            raise web.HTTPMisdirectedRequest(text="wrong Host for this dashboard "
                                             "(a proxy's name goes in NOWBOT_DASHBOARD_ALLOWED_HOSTS)")
        if request.method not in SAFE_METHODS and not self._from_here(request, hosts):
            raise web.HTTPForbidden(text="cross-site request refused")
        open_path = request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIX)
        if not open_path and not self.signed_in(request):
            if request.method in SAFE_METHODS:
                raise web.HTTPSeeOther(location="/login")
            raise web.HTTPForbidden(text="log in first")
        response = await handler(request)
        response.headers.update(NO_FRAMING)
        return response


def _forwarded(request: web.Request) -> web.Request:
    """`request` with the client's address and scheme as our reverse proxy saw them: the last
    `X-Forwarded-For` entry (the one the proxy appended; earlier ones the client may have
    written) and `X-Forwarded-Proto`."""
    changes = {}
    last = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
    with suppress(ValueError):
        changes["remote"] = str(ipaddress.ip_address(last))
    scheme = request.headers.get("X-Forwarded-Proto", "").rsplit(",", 1)[-1].strip().lower()
    if scheme in ("http", "https"):
        changes["scheme"] = scheme
    return request.clone(**changes) if changes else request


ACCESS = web.AppKey("access", Access)


def _login_page(request: web.Request, refusal: str = "", status: int = 200,
                headers: dict[str, str] | None = None) -> web.Response:
    response = aiohttp_jinja2.render_template("login.html", request, {"refusal": refusal},
                                              status=status)
    response.headers.update(headers or {})
    return response


async def login_form(request: web.Request) -> web.Response:
    if request.app[ACCESS].password is None:
        raise web.HTTPSeeOther(location="/")
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: a session cookie for the right password; 403 for a wrong one, 429 with
    `Retry-After` (the form unread) for a client that guessed wrong too often."""
    rules = request.app[ACCESS]
    if rules.password is None:
        raise web.HTTPSeeOther(location="/")
    client = client_key(request.remote)
    wait = math.ceil(rules.limits.begin(client))
    if wait:
        return _login_page(request, f"too many wrong passwords from your address: try again in "
                           f"{wait} s", status=429, headers={hdrs.RETRY_AFTER: str(wait)})
    form = await request.post()
    token = await rules.log_in(client, str(form.get("password", "")))
    if token is None:
        return _login_page(request, "wrong password", status=403)
    signed_in = web.HTTPSeeOther(location="/")
    signed_in.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True,
                         samesite="Strict", secure=request.secure)
    raise signed_in


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[ACCESS].log_out(request)
    signed_out = web.HTTPSeeOther(location="/login")
    signed_out.del_cookie(COOKIE, path="/")
    raise signed_out
