"""The dashboard under floods, over real sockets: wrong passwords from one address (or from many)
never hold up or lock out the owner's login from another, a limited address is answered 429 with
`Retry-After`, ids no database row can have are 404s, and behind a proxy that says so the client
is the address it forwards and the session cookie is `Secure`. The `/draw` floods are in
test_dashboard_draw.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from test_dashboard import PASSWORD, draft, runtime_for, status_of

from bot.app import App
from bot.core.runtime import Runtime
from bot.dashboard import CSRF, access, create_dashboard
from storage.outbox import PostStatus

FLOOD = 40  # wrong passwords sent at once; served one at a time with a 1 s pause, they took 40 s
Login = Callable[..., Awaitable[tuple[int, dict[str, str]]]]


@pytest.fixture(autouse=True)
def _long_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A minute's wait after the free guesses, so that no refusal here depends on how fast this
    machine sends the next guess."""
    monkeypatch.setattr(access, "FIRST_WAIT_S", 60.0)


def serve(runtime: Runtime, visit: Callable[[TestServer, Login], Awaitable[Any]]) -> Any:
    """Run `visit(server, login)` against the dashboard on 127.0.0.1; `login(password, source=...,
    headers=...)` posts the login form from loopback address `source` in a fresh session and
    returns the status and headers of the answer."""
    async def login(password: str, source: str = "127.0.0.1",
                    headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post(server.make_url("/login"), data={"password": password},
                                    headers={"Origin": str(server.make_url("/").origin()),
                                             **(headers or {})},
                                    allow_redirects=False) as response:
                await response.read()
                return response.status, dict(response.headers)

    async def main() -> Any:
        async with server:
            return await visit(server, login)

    server = TestServer(create_dashboard(runtime), host="127.0.0.1")
    return asyncio.run(main())


def test_a_login_flood_from_one_address_neither_delays_nor_locks_out_the_owner(
        sqlite_app: App) -> None:
    async def visit(server: TestServer, login: Login) -> dict[str, Any]:
        flood = [asyncio.create_task(login(f"guess {n}", source="127.0.0.2")) for n in range(FLOOD)]
        await asyncio.sleep(0.1)  # the flood is in
        started = time.monotonic()
        owner = await login(PASSWORD, source="127.0.0.1")
        owner_s = time.monotonic() - started
        answers = await asyncio.gather(*flood)
        return {"owner": owner, "owner_s": owner_s, "flood": answers,
                "flooder_right": await login(PASSWORD, source="127.0.0.2")}

    seen = serve(runtime_for(sqlite_app, dashboard_password=SecretStr(PASSWORD)), visit)
    status, headers = seen["owner"]
    assert status == 303 and headers["Set-Cookie"].startswith("nowbot_session=")
    assert seen["owner_s"] < FLOOD / 4  # not queued behind the flood's guesses
    statuses = [status for status, _ in seen["flood"]]
    assert statuses.count(403) == access.FREE_GUESSES  # guesses checked; the rest refused unread
    assert statuses.count(429) == FLOOD - access.FREE_GUESSES
    waits = [int(headers["Retry-After"]) for status, headers in seen["flood"] if status == 429]
    assert 1 <= min(waits) <= max(waits) <= 60
    status, headers = seen["flooder_right"]  # even the right password waits: no guess is checked
    assert status == 429 and "Set-Cookie" not in headers


def test_wrong_passwords_from_many_addresses_leave_a_fresh_address_its_try(
        sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "ACCOUNT_GUESSES", 8)

    async def visit(server: TestServer, login: Login) -> dict[str, Any]:
        spread = [await login("guess", source=f"127.0.1.{n}") for n in range(1, 9)]
        return {"spread": spread, "again": await login("guess", source="127.0.1.1"),
                "again right": await login(PASSWORD, source="127.0.1.2"),
                "fresh": await login(PASSWORD, source="127.0.2.1")}

    seen = serve(runtime_for(sqlite_app, dashboard_password=SecretStr(PASSWORD)), visit)
    assert [status for status, _ in seen["spread"]] == [403] * 8  # one guess each: all checked
    assert seen["again"][0] == 429  # the account is being guessed at: a second guess waits
    assert seen["again right"][0] == 429
    assert seen["fresh"][0] == 303  # an address that never guessed wrong still logs in


def test_behind_a_proxy_its_client_address_counts_and_https_makes_the_cookie_secure(
        sqlite_app: App) -> None:
    attacker = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    owner = {"X-Forwarded-For": "6.6.6.6, 198.51.100.2", "X-Forwarded-Proto": "https"}

    async def visit(server: TestServer, login: Login) -> list[tuple[int, dict[str, str]]]:
        guesses = [await login(f"guess {n}", headers=attacker)
                   for n in range(access.FREE_GUESSES + 1)]
        return [*guesses, await login(PASSWORD, headers=owner)]

    seen = serve(runtime_for(sqlite_app, dashboard_password=SecretStr(PASSWORD),
                             dashboard_behind_proxy=True), visit)
    assert [status for status, _ in seen] == [403] * access.FREE_GUESSES + [429, 303]
    cookie = seen[-1][1]["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_without_the_proxy_setting_forwarded_headers_change_nothing(sqlite_app: App) -> None:
    async def visit(server: TestServer, login: Login) -> list[tuple[int, dict[str, str]]]:
        return [await login(f"guess {n}", headers={"X-Forwarded-For": f"203.0.113.{n}"})
                for n in range(access.FREE_GUESSES + 1)] + [
            await login(PASSWORD, source="127.0.0.3", headers={"X-Forwarded-Proto": "https"})]

    seen = serve(runtime_for(sqlite_app, dashboard_password=SecretStr(PASSWORD)), visit)
    assert [status for status, _ in seen] == [403] * access.FREE_GUESSES + [429, 303]
    assert "Secure" not in seen[-1][1]["Set-Cookie"]  # plain http: a Secure cookie would be lost


BEYOND = ("2147483648", "9223372036854775808", "18446744073709551616", "9" * 5000)


def test_ids_no_row_can_have_are_404s(app: App) -> None:
    post_id = draft(app)

    async def visit(server: TestServer, login: Login) -> list[tuple[str, int, str]]:
        here = {"Origin": str(server.make_url("/").origin())}
        seen = []
        async with aiohttp.ClientSession() as session:
            for number in BEYOND:
                for method, path, data in (
                        ("GET", f"/items/{number}", None),
                        ("GET", f"/versions/{number}/grid.png", None),
                        ("GET", f"/charts/runs/{number}.svg", None),
                        ("POST", f"/posts/{number}/approve", {"csrf": server.app[CSRF]})):
                    async with session.request(method, server.make_url(path), data=data,
                                               headers=here, allow_redirects=False) as response:
                        seen.append((path[:40], response.status, await response.text()))
            padded = server.make_url(f"/posts/{post_id:020d}/approve")
            async with session.post(padded, headers=here, data={"csrf": server.app[CSRF]},
                                    allow_redirects=False) as response:
                seen.append(("leading zeros", response.status, response.headers["Location"]))
        return seen

    seen = serve(runtime_for(app), visit)
    refused = seen[:-1]
    assert {status for _, status, _ in refused} == {404}, refused
    assert {text for _, _, text in refused} == {"no such item", "no such version", "no such run",
                                                "no such post"}
    assert seen[-1][1] == 303 and "approved" in seen[-1][2]
    assert status_of(app, post_id) == PostStatus.APPROVED
