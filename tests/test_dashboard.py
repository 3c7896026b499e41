"""The dashboard over HTTP: the review queue's actions, why a draft was chosen and the campaign's
review model, published posts with images and links, model versions in words, image grids, jobs
and logs, /healthz, and who may use it (Host names, cross-site posts, the password login). The
real-browser tests are in test_dashboard_browser.py."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from review_data import WHY_START, chosen_draft, judge, trained
from service_harness import StubGenerator
from sqlalchemy import select

from bot import outbox, publishing
from bot.app import App
from bot.platforms.base import NEVER, Outgoing
from bot.config import ConfigError, load_settings
from bot.dashboard import CSRF, DashboardError, DashboardPortInUse, create_dashboard, start_dashboard
from bot.core import reviewing
from bot.core.runtime import Runtime
from models.errors import NoServingModel
from models.registry import Registry
from storage.outbox import GeneratedItem, Post, PostStatus
from storage.registry import ModelKind, ModelVersion, VersionStatus
from storage.reviews import ReviewLoop


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
        return outbox.create_post(session, platforms=["x"], text=text, hashtag="#siggraphNOW",
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
    form = re.search(rf'action="/posts/{post_id}/edit" class="post-form">\s*<input type="hidden" '
                     r'name="csrf" value="([^"]+)"', page)
    assert form is not None and f'formaction="/posts/{post_id}/approve"' in page
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
    publishing.publish_due(app.sessions, {"x": _Accepting()})

    async def visit(client: TestClient) -> tuple[str, bytes, int, int]:
        page = await (await client.get("/published")).text()
        png = await (await client.get(f"/items/{inside_id}")).read()
        return (page, png, (await client.get(f"/items/{outside_id}")).status,
                (await client.get("/items/9999")).status)

    page, png, outside_status, missing_status = browse(runtime_for(app), visit)
    published = page.split("<h1>Published</h1>")[1]
    assert "Fresh samples #siggraphNOW" in published and f'src="/items/{inside_id}"' in published
    assert "approved by ana" in published
    assert '<a href="https://x.com/i/web/status/42"' in published  # X gives each post an address
    assert png == image.read_bytes()
    assert outside_status == 404 and missing_status == 404


class _Accepting:
    platform, cost_per_post_usd = "x", 0.015
    monthly_budget_usd: float | None = None
    resend_safe_for = NEVER

    def publish(self, item: Outgoing) -> str:
        return "42"

    def recent_posts(self, limit: int) -> list[Any]:
        return []


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


# -- the queue's edit box, undo and schedule ----------------------------------------------------

async def _send(client: TestClient, post_id: int, action: str, **fields: str) -> str:
    """Press `action` on post `post_id`'s form with these fields; returns the page it leads to."""
    response = await client.post(f"/posts/{post_id}/{action}",
                                 data={"csrf": client.server.app[CSRF], **fields},
                                 headers={"Origin": _origin(client)})
    return await response.text()


def _notice_of(page: str) -> str:
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', page)
    return found.group(1) if found else ""


def test_approve_saves_the_edited_text_first(app: App) -> None:
    post_id = draft(app)
    page = browse(runtime_for(app), lambda client: _send(client, post_id, "approve",
                                                           text="  Slides are up:\n see the program  "))
    assert _notice_of(page) == f"post {post_id} approved: it will be published on the next outbox run"
    with app.sessions() as session:
        post = session.get_one(Post, post_id)
    assert (post.status, post.text, post.edited_by) == (PostStatus.APPROVED, "Slides are up: see the program",
                                                        "dashboard")


def test_an_edit_too_long_for_x_is_refused_with_the_reason(app: App) -> None:
    post_id = draft(app)
    long = "word " * 55 + "https://example.com/" + "x" * 300  # 274 characters, a space, a link as 23
    page = browse(runtime_for(app), lambda client: _send(client, post_id, "edit", text=long))
    assert _notice_of(page) == (f"post {post_id}: the text is 298 characters long as x counts them; "
                                "it takes 280")
    assert status_of(app, post_id) == PostStatus.DRAFT


def test_undo_approval_and_schedule_for_a_time(app: App) -> None:
    post_id = draft(app)
    outbox.approve(app.sessions, post_id, reviewer="ana")

    async def visit(client: TestClient) -> list[str]:
        undone = await _send(client, post_id, "unapprove")
        scheduled = await _send(client, post_id, "schedule", when="2999-01-02T03:04")
        past = await _send(client, post_id, "schedule", when="2000-01-01T00:00")
        blank = await _send(client, post_id, "schedule", when="")
        return [undone, scheduled, past, blank]

    undone, scheduled, past, blank = browse(runtime_for(app), visit)
    assert _notice_of(undone) == f"post {post_id} is a draft again"
    assert _notice_of(scheduled) == f"post {post_id} scheduled"
    assert "publishes at 2999-01-02 03:04 UTC" in scheduled
    assert "in the past" in _notice_of(past) and "pick a time" in _notice_of(blank)
    with app.sessions() as session:
        post = session.get_one(Post, post_id)
    assert post.status == PostStatus.APPROVED and post.publish_at is not None
    assert publishing.publish_due(app.sessions, {"x": _Accepting()}) == []  # not before its time


def test_refusal_notes_cannot_be_forged_by_a_link(app: App) -> None:
    page = browse(runtime_for(app), lambda client: _text(client, "/?notice=refused&ref=made-up"))
    assert 'class="notice"' not in page


def test_length_counter_counts_as_each_platform_does(app: App) -> None:
    async def visit(client: TestClient) -> list[Any]:
        answers = []
        for platform, text in (("x", "hi https://example.com/a/very/long/path 🎉"), ("discord", "hi 🎉"),
                               ("local", "a  b")):
            response = await client.get("/length", params={"platform": platform, "text": text})
            answers.append(await response.json())
        answers.append((await client.get("/length", params={"platform": "myspace", "text": "a"})).status)
        return answers

    x, discord, local, unknown = browse(runtime_for(app), visit)
    assert x == {"length": 3 + 23 + 1 + 2, "limit": 280, "over": False}  # link 23, emoji 2
    assert discord == {"length": 4, "limit": 2000, "over": False}
    assert local == {"length": 3, "limit": 280, "over": False}  # spaces collapse as an edit stores it
    assert unknown == 404


def test_queue_says_when_nothing_waits(app: App) -> None:
    page = browse(runtime_for(app), lambda client: _text(client, "/"))
    assert "Nothing waiting" in page and "<textarea" not in page


# -- why this one, and the campaign's review model ---------------------------------------------

def _words(page: str, selector: str) -> str:
    """The text of the first element with class `selector`, as a reader sees it."""
    found = re.search(rf'<(\w+) class="{selector}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert found is not None, selector
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(2))).split())


def test_queue_shows_why_a_draft_was_chosen_and_what_the_review_model_learned(app: App) -> None:
    trained(app)
    runtime = runtime_for(app)
    chosen, plain = chosen_draft(runtime), draft(app)
    page = browse(runtime, lambda client: _text(client, "/"))
    cards = {int(number): card for number, card in re.findall(
        r'<article class="card post" id="post-(\d+)">(.*?)</article>', page, re.DOTALL)}
    why = _words(cards[chosen], "why")
    assert why.startswith(f"Why this one: {WHY_START} and the reviewers' taste: ")
    assert re.search(r"\d+% likely approved \(1st of 64; review model v1 at weight 10\)$", why)
    assert 'class="why"' not in cards[plain]  # written by no editor: nothing to say
    assert _words(page, "review-summary") == ("on: review model v1 of siggraph weighs 10, learned "
                                              "from 24 judged drafts")
    learned = _words(page, "review-learned")
    assert learned.startswith('reviewers approve more: "keynote"')
    assert learned.endswith('they approve less: "parking"')
    assert re.match(r"newest training: v1 promoted on 24 decisions it did not learn from: log loss "
                    r"0\.\d+ vs chance 0\.\d+ \(\d{4}-", _words(page, "verdict"))


async def _review(client: TestClient, action: str, token: str | None = None) -> tuple[int, str]:
    """Press the review model's `action` button; (status, the notice on the page it leads to)."""
    response = await client.post(f"/review-model/{action}",
                                 data={"csrf": token or client.server.app[CSRF], "next": "/"},
                                 headers={"Origin": _origin(client)})
    return response.status, _notice_of(await response.text())


def test_review_model_buttons_train_switch_off_and_on_and_reset(app: App) -> None:
    def pressing(*actions: str) -> list[tuple[int, str]]:
        async def visit(client: TestClient) -> list[tuple[int, str]]:
            return [await _review(client, action) for action in actions]

        return browse(runtime_for(app), visit)

    [too_few] = pressing("train")
    assert too_few == (200, "review model of siggraph: not trained: 0 judged drafts of 20 needed")
    judge(app)
    [(_, promoted), (_, off)] = pressing("train", "switch-off")
    assert promoted.startswith("review model v1 of siggraph: promoted on 24 decisions it did not "
                               "learn from")
    assert off == "review loop off for siggraph (switched off by an operator): ranking unchanged"
    loop = reviewing.state(app)
    assert not loop.enabled and not loop.active and loop.serving is not None
    with app.sessions() as session:
        assert session.get_one(ReviewLoop, "siggraph").changed_by == "dashboard"
    page = browse(runtime_for(app), lambda client: _text(client, "/"))
    assert _words(page, "review-summary").startswith("off for siggraph")
    assert 'formaction="/review-model/switch-on">Switch on' in page and "Switch off" not in page

    [(_, on), (_, reset)] = pressing("switch-on", "reset")
    assert on == ("review loop on: review model v1 of siggraph weighs 10, learned from 24 judged "
                  "drafts")
    assert reset == ("review loop reset: learning: 0 decisions kept for siggraph, a model is "
                     "trained from 20 judged drafts; ranking unchanged until then")
    loop = reviewing.state(app)
    assert loop.enabled and loop.serving is None and loop.decisions == 0
    assert loop.latest is not None and loop.latest.status == VersionStatus.RETIRED


def test_review_model_buttons_need_the_form_token(app: App) -> None:
    trained(app)
    status, _ = browse(runtime_for(app), lambda client: _review(client, "reset", token="forged"))
    assert status == 403
    assert reviewing.state(app).serving is not None


def test_a_failed_training_is_a_one_line_notice(app: App) -> None:
    trained(app)
    serving = Registry(app.sessions, app.artifacts_dir).serving(ModelKind.REVIEW, "siggraph")
    assert serving is not None
    for stored in Path(serving.artifact_path).iterdir():
        stored.write_text("damaged")
    judge(app, 6)
    _, said = browse(runtime_for(app), lambda client: _review(client, "train"))
    assert said.startswith("review model: train did not work: ") and "\n" not in said
    with app.sessions() as session:  # no version saved
        assert list(session.scalars(select(ModelVersion.id).where(
            ModelVersion.kind == ModelKind.REVIEW))) == [serving.id]


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
        assert "<script>alert" not in page and "alert(1)" not in page and 'class="notice"' not in page
    assert f'<p class="notice" role="status">post {post_id} approved: it will be published' in known
    assert '<p class="notice" role="status">no post with id 9999</p>' in missing


def test_a_failed_action_shows_a_fixed_notice_and_logs_why(app: App,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    post_id = draft(app)
    runtime = runtime_for(app)
    runtime.generator = _Failing()

    async def visit(client: TestClient) -> str:
        _, location = await _press(client, post_id, "regenerate")
        return await _text(client, location)

    page = browse(runtime, visit)
    assert f'<p class="notice" role="status">post {post_id}: that did not work; the log says why</p>' in page
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
        seen["style"] = (await client.get("/static/dashboard.css")).status  # the login page's look
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
    assert seen["healthz"] == 200 and seen["style"] == 200
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
    assert "NOWBOT_DASHBOARD_PASSWORD: must be at least 8 characters" in str(short.value)
    assert "hunter2" not in str(short.value)
    with pytest.raises(ConfigError, match="NOWBOT_DASHBOARD_ALLOWED_HOSTS"):
        load_settings(dashboard_allowed_hosts="https://nowbot.example.org")
    settings = load_settings(dashboard_password=PASSWORD,
                             dashboard_allowed_hosts=" Nowbot.example.org, [::1]:9000 ,")
    assert settings.dashboard_hosts == {"nowbot.example.org", "[::1]:9000"}
    assert PASSWORD not in repr(settings)
