"""The dashboard: review queue actions, published posts with images, models, jobs, /healthz."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from service_harness import StubGenerator

from bot import outbox
from bot.app import App
from bot.dashboard import CSRF, create_dashboard
from bot.core.runtime import Runtime
from models.registry import Registry
from storage.outbox import GeneratedItem, Post, PostStatus


def runtime_for(app: App) -> Runtime:
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


async def _press(client: TestClient, post_id: int, action: str, token: str | None = None) -> Any:
    if token is None:
        token = client.server.app[CSRF]
    response = await client.post(f"/posts/{post_id}/{action}", data={"csrf": token},
                                 allow_redirects=False)
    return response.status, response.headers.get("Location", "")


def test_queue_shows_drafts_and_approve_button_approves(app: App) -> None:
    post_id = draft(app)

    async def visit(client: TestClient) -> tuple[str, Any]:
        page = await (await client.get("/")).text()
        return page, await _press(client, post_id, "approve")

    page, (status, location) = browse(runtime_for(app), visit)
    assert "Course notes are online #siggraphNOW" in page
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
