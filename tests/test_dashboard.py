"""The dashboard: review queue actions, published posts with images, models, jobs, /healthz."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from service_harness import StubGenerator

from bot import outbox
from bot.app import App
from bot.config import ConfigError, load_settings
from bot.dashboard import CSRF, DashboardError, DashboardPortInUse, create_dashboard, start_dashboard
from bot.core.runtime import Runtime
from models.errors import NoServingModel
from models.registry import Registry
from storage.outbox import GeneratedItem, Post, PostStatus


PASSWORD = "correct horse battery"


def runtime_for(app: App, **dashboard: Any) -> Runtime:
    """A runtime on `app`, with settings changed as given (dashboard_host=..., ...)."""
    if dashboard:
        app = dataclasses.replace(app, settings=app.settings.model_copy(update=dashboard))
    return Runtime(app=app, generator=StubGenerator(), publishers={})


def browse(runtime: Runtime, visit: Callable[[TestClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with TestClient(TestServer(create_dashboard(runtime))) as client:
            return await visit(client)

    return asyncio.run(main())


def draft(app: App, text: str = "Course notes are online", image_id: int | None = None) -> int:
    with app.sessions.begin() as session:
        return outbox.create_post(session, platform="x", text=text, hashtag="#siggraphNOW",
                                  review=True, image_item_id=image_id).id


def status_of(app: App, post_id: int) -> str:
    with app.sessions() as session:
        return session.get_one(Post, post_id).status


def _origin(client: TestClient) -> str:
    """The dashboard's own origin, as a browser sends it with the dashboard's forms."""
    return str(client.make_url("/").origin())


async def _press(client: TestClient, post_id: int, action: str, token: str | None = None,
                 headers: dict[str, str] | None = None) -> Any:
    if token is None:
        token = client.server.app[CSRF]
    response = await client.post(f"/posts/{post_id}/{action}", data={"csrf": token},
                                 allow_redirects=False,
                                 headers={"Origin": _origin(client)} if headers is None else headers)
    return response.status, response.headers.get("Location", "")


def test_queue_shows_drafts_and_approve_button_approves(app: App) -> None:
    post_id = draft(app)

    async def visit(client: TestClient) -> tuple[str, Any, Any]:
        response = await client.get("/")
        return await response.text(), response.headers, await _press(client, post_id, "approve")

    page, headers, (status, location) = browse(runtime_for(app), visit)
    assert "Course notes are online #siggraphNOW" in page
    assert headers["X-Frame-Options"] == "DENY"  # no other site can frame the buttons
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    form = re.search(rf'action="/posts/{post_id}/approve"><input type="hidden" name="csrf" value="([^"]+)"', page)
    assert form is not None
    assert status == 303 and "approved" in location
    assert status_of(app, post_id) == PostStatus.APPROVED
    with app.sessions() as session:
        assert session.get_one(Post, post_id).reviewed_by == "dashboard"


def test_action_without_form_token_is_refused(app: App) -> None:
    post_id = draft(app)
    status, _ = browse(runtime_for(app), lambda client: _press(client, post_id, "approve", token="forged"))
    assert status == 403
    assert status_of(app, post_id) == PostStatus.DRAFT


def test_reject_and_regenerate(app: App) -> None:
    first, second = draft(app, "one"), draft(app, "two")

    async def visit(client: TestClient) -> None:
        await _press(client, first, "reject")
        await _press(client, second, "regenerate")

    browse(runtime_for(app), visit)
    assert status_of(app, first) == PostStatus.REJECTED
    with app.sessions() as session:
        assert session.get_one(Post, second).text.startswith("Generated post number 1")


def test_invalid_action_shows_a_notice(app: App) -> None:
    post_id = draft(app)
    outbox.reject(app.sessions, post_id, reviewer="ana")

    async def visit(client: TestClient) -> str:
        _, location = await _press(client, post_id, "approve")
        return await (await client.get(location)).text()

    assert f"post {post_id} is rejected: it cannot become approved" in browse(runtime_for(app), visit)


def test_published_post_shows_its_image(app: App, tmp_path: Path) -> None:
    image = app.artifacts_dir / "generated" / "digits" / "image-1.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(StubGenerator().render_image_grid(app, "digits", 1))
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"not yours")
    with app.sessions.begin() as session:
        items = [GeneratedItem(kind="image", artifact_path=str(path), details={})
                 for path in (image, outside)]
        session.add_all(items)
        session.flush()
        inside_id, outside_id = items[0].id, items[1].id
    post_id = draft(app, "Fresh samples", image_id=inside_id)
    outbox.approve(app.sessions, post_id, reviewer="ana")
    outbox.publish_due(app.sessions, {"x": _Accepting()})

    async def visit(client: TestClient) -> tuple[str, bytes, int, int]:
        page = await (await client.get("/")).text()
        png = await (await client.get(f"/items/{inside_id}")).read()
        return (page, png, (await client.get(f"/items/{outside_id}")).status,
                (await client.get("/items/9999")).status)

    page, png, outside_status, missing_status = browse(runtime_for(app), visit)
    published = page.split("<h2>Published</h2>")[1]
    assert "Fresh samples #siggraphNOW" in published and f'src="/items/{inside_id}"' in published
    assert "<td>ana</td>" in published  # who approved it
    assert png == image.read_bytes()
    assert outside_status == 404 and missing_status == 404


class _Accepting:
    platform, cost_per_post_usd = "x", 0.015
    monthly_budget_usd: float | None = None

    def publish(self, post_id: int, text: str, image: Path | None) -> str:
        return "42"

    def recent_posts(self, limit: int) -> list[Any]:
        return []


def test_model_versions_show_metrics_and_loss_curve(app: App) -> None:
    registry = Registry(app.sessions, app.artifacts_dir)
    version = registry.save_version("text", "siggraph", lambda folder: None,
                                    {"val_loss": 1.234, "loss_history": [2.0, 1.6, 1.3]})
    registry.promote_if_better(version.id, "val_loss")
    page = browse(runtime_for(app), lambda client: _text(client, "/"))
    models = page.split("<h2>Model versions</h2>")[1]
    assert "siggraph" in models and "serving" in models and "val_loss=1.234" in models
    assert "<polyline" in models


async def _text(client: TestClient, path: str) -> str:
    return await (await client.get(path)).text()


def test_healthz_reports_database_and_outbox(app: App) -> None:
    draft(app)

    async def visit(client: TestClient) -> tuple[int, Any]:
        response = await client.get("/healthz")
        return response.status, await response.json()

    runtime = runtime_for(app)
    publisher = _Accepting()
    publisher.monthly_budget_usd = 5.0
    runtime.publishers["x"] = publisher
    status, body = browse(runtime, visit)
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["leader"] is False and body["posts"] == {"draft": 1}
    assert body["month_budgets"] == {"x": {"spent_usd": 0.0, "budget_usd": 5.0}}


# -- who may use it ------------------------------------------------------------------------------

def test_other_host_names_are_refused(app: App) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: it gets neither page nor token."""
    post_id = draft(app)
    evil = {"Host": "evil.example", "Origin": "http://evil.example"}

    async def visit(client: TestClient) -> list[int]:
        port = client.port
        statuses = [(await client.get("/", headers={"Host": host})).status
                    for host in ("evil.example", f"evil.example:{port}", f"localhost:{port}",
                                 f"[::1]:{port}", f"127.0.0.1:{port + 1}")]
        statuses.append((await client.get("/healthz", headers={"Host": "evil.example"})).status)
        statuses.append((await _press(client, post_id, "approve", headers=evil))[0])
        return statuses

    assert browse(runtime_for(app), visit) == [421, 421, 200, 200, 421, 421, 421]
    assert status_of(app, post_id) == PostStatus.DRAFT


def test_cross_site_post_is_refused(app: App) -> None:
    post_id = draft(app)

    async def visit(client: TestClient) -> list[int]:
        here = _origin(client)
        return [(await _press(client, post_id, "approve", headers=headers))[0] for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Referer": "http://evil.example/page"},
            {"Referer": f"http://{client.host}:{client.port}@evil.example/"},
            {},  # neither Origin nor Referer
            {"Origin": "http://evil.example", "Referer": here + "/"},
        )]

    assert browse(runtime_for(app), visit) == [403] * 6
    assert status_of(app, post_id) == PostStatus.DRAFT


def test_same_site_referer_stands_in_for_a_missing_origin(app: App) -> None:
    post_id = draft(app)
    status, location = browse(runtime_for(app), lambda client: _press(
        client, post_id, "approve", headers={"Referer": _origin(client) + "/"}))
    assert status == 303 and "approved" in location
    assert status_of(app, post_id) == PostStatus.APPROVED


def test_notices_come_only_from_the_fixed_table(app: App) -> None:
    post_id = draft(app)

    async def visit(client: TestClient) -> list[str]:
        links = ["/?notice=<script>alert(1)</script>", "/?notice=post+1+approved",
                 f"/?notice=approved&post=x{post_id}", "/?notice=approved&post=1e3",
                 f"/?notice=approved&post={post_id}", "/?notice=approved&post=9999"]
        return [await _text(client, link) for link in links]

    *unknown, known, missing = browse(runtime_for(app), visit)
    for page in unknown:
        assert "script" not in page and "alert" not in page and 'class="notice"' not in page
    assert f'<p class="notice">post {post_id} approved: it will be published' in known
    assert '<p class="notice">no post with id 9999</p>' in missing


def test_a_failed_action_shows_a_fixed_notice_and_logs_why(app: App,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    post_id = draft(app)
    runtime = runtime_for(app)
    runtime.generator = _Failing()

    async def visit(client: TestClient) -> str:
        _, location = await _press(client, post_id, "regenerate")
        return await _text(client, location)

    page = browse(runtime, visit)
    assert f'<p class="notice">post {post_id}: that did not work; the log says why</p>' in page
    assert "no text model serves" in caplog.text
    assert status_of(app, post_id) == PostStatus.DRAFT


class _Failing(StubGenerator):
    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> Any:
        raise NoServingModel("no text model serves 'siggraph' yet")


def test_network_address_without_password_refuses_to_start(app: App) -> None:
    runtime = runtime_for(app, dashboard_host="0.0.0.0", dashboard_port=0)
    with pytest.raises(DashboardError) as refused:
        asyncio.run(start_dashboard(runtime))
    message = str(refused.value)
    assert "\n" not in message and "NOWBOT_DASHBOARD_PASSWORD" in message and "0.0.0.0" in message


def test_password_requires_login_before_anything_but_healthz(app: App) -> None:
    post_id = draft(app)

    async def visit(client: TestClient) -> dict[str, Any]:
        here = {"Origin": _origin(client)}
        seen: dict[str, Any] = {}
        response = await client.get("/", allow_redirects=False)
        seen["page"] = response.status, response.headers.get("Location")
        seen["image"] = (await client.get("/items/1", allow_redirects=False)).status
        seen["healthz"] = (await client.get("/healthz")).status
        seen["login page"] = await _text(client, "/login")
        seen["press"] = (await _press(client, post_id, "approve"))[0]
        response = await client.post("/login", data={"password": "wrong one!"}, headers=here,
                                     allow_redirects=False)
        seen["wrong"] = response.status, await response.text(), response.headers.get("Set-Cookie")
        response = await client.post("/login", data={"password": PASSWORD},
                                     headers={"Origin": "http://evil.example"}, allow_redirects=False)
        seen["cross-site login"] = response.status, response.headers.get("Set-Cookie")
        response = await client.post("/login", data={"password": PASSWORD}, headers=here,
                                     allow_redirects=False)
        seen["right"] = response.status, response.headers.get("Location"), response.headers["Set-Cookie"]
        seen["after login"] = await _text(client, "/")
        seen["approve"] = await _press(client, post_id, "approve")
        await client.post("/logout", headers=here, allow_redirects=False)
        seen["after logout"] = (await client.get("/", allow_redirects=False)).status
        return seen

    seen = browse(runtime_for(app, dashboard_password=SecretStr(PASSWORD)), visit)
    assert seen["page"] == (303, "/login") and seen["image"] == 303
    assert seen["healthz"] == 200
    assert 'type="password" name="password"' in seen["login page"]
    assert seen["press"] == 403
    status, page, cookie = seen["wrong"]
    assert status == 403 and "wrong password" in page and cookie is None
    assert seen["cross-site login"] == (403, None)
    status, location, cookie = seen["right"]
    assert status == 303 and location == "/"
    assert cookie.startswith("nowbot_session=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie and PASSWORD not in cookie
    assert "Course notes are online" in seen["after login"] and 'action="/logout"' in seen["after login"]
    assert seen["approve"][0] == 303 and "approved" in seen["approve"][1]
    assert status_of(app, post_id) == PostStatus.APPROVED
    assert seen["after logout"] == 303


def test_network_address_answers_its_allowed_hosts_with_a_login(app: App) -> None:
    """Behind a reverse proxy: the proxy's name is allowed as Host and as the origin of forms."""
    proxy = {"Host": "nowbot.example.org", "Origin": "https://nowbot.example.org"}

    async def visit(client: TestClient) -> list[int]:
        return [(await client.get("/", headers={"Host": "nowbot.example.org"},
                                  allow_redirects=False)).status,
                (await client.get("/", headers={"Host": "other.example.org"})).status,
                (await client.post("/login", data={"password": PASSWORD}, headers=proxy,
                                   allow_redirects=False)).status,
                (await client.get("/", headers={"Host": "nowbot.example.org"})).status]

    runtime = runtime_for(app, dashboard_host="0.0.0.0", dashboard_password=SecretStr(PASSWORD),
                          dashboard_allowed_hosts="nowbot.example.org")
    assert browse(runtime, visit) == [303, 421, 303, 200]


def test_busy_port_is_a_one_line_error(app: App) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DashboardPortInUse) as busy:
            asyncio.run(start_dashboard(runtime_for(app, dashboard_port=port)))
    assert str(busy.value) == (f"dashboard port 127.0.0.1:{port} is already in use (another nowbot "
                               "run?); set NOWBOT_DASHBOARD_PORT")


def test_dashboard_settings_are_checked_without_echoing_the_password() -> None:
    with pytest.raises(ConfigError) as short:
        load_settings(dashboard_password="hunter2")
    assert "NOWBOT_DASHBOARD_PASSWORD: Value error, must be at least 8 characters" in str(short.value)
    assert "hunter2" not in str(short.value)
    with pytest.raises(ConfigError, match="NOWBOT_DASHBOARD_ALLOWED_HOSTS"):
        load_settings(dashboard_allowed_hosts="https://nowbot.example.org")
    settings = load_settings(dashboard_password=PASSWORD,
                             dashboard_allowed_hosts=" Nowbot.example.org, [::1]:9000 ,")
    assert settings.dashboard_hosts == {"nowbot.example.org", "[::1]:9000"}
    assert PASSWORD not in repr(settings)
