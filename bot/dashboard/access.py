"""Who may use the dashboard: requests must name it by an expected `Host` (no DNS rebinding),
forms must be posted from its own pages (no cross-site posts, no framing by another site), and
with a password set a person logs in first. The password is kept only as a salted scrypt hash;
sessions are random tokens held by this process, so a restart logs everyone out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import hdrs, web
from pydantic import SecretStr

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})
OPEN_PATHS = frozenset({"/healthz", "/login"})  # reachable without logging in
OPEN_PREFIX = "/static/"  # the style sheet and script: no data in them
# No other site may show our pages in a frame and have a person click on them.
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
COOKIE = "nowbot_session"
SESSION_SECONDS = 12 * 3600
FAILED_LOGIN_DELAY_S = 1.0  # with one check at a time: at most one wrong guess a second
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
        self._checking = asyncio.Lock()

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

    async def log_in(self, password: str) -> str | None:
        """A new session token for the right password; None (after a pause) for a wrong one."""
        async with self._checking:
            right = self.password is not None and await asyncio.to_thread(self.password.matches, password)
            if not right:
                await asyncio.sleep(FAILED_LOGIN_DELAY_S)
                return None
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
        forbid framing."""
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


ACCESS = web.AppKey("access", Access)


async def login_form(request: web.Request) -> web.Response:
    if request.app[ACCESS].password is None:
        raise web.HTTPSeeOther(location="/")
    return aiohttp_jinja2.render_template("login.html", request, {"failed": False})


async def login(request: web.Request) -> web.StreamResponse:
    rules = request.app[ACCESS]
    if rules.password is None:
        raise web.HTTPSeeOther(location="/")
    form = await request.post()
    token = await rules.log_in(str(form.get("password", "")))
    if token is None:
        return aiohttp_jinja2.render_template("login.html", request, {"failed": True}, status=403)
    signed_in = web.HTTPSeeOther(location="/")
    signed_in.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True,
                         samesite="Strict", secure=request.secure)
    raise signed_in


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[ACCESS].log_out(request)
    signed_out = web.HTTPSeeOther(location="/login")
    signed_out.del_cookie(COOKIE, path="/")
    raise signed_out
