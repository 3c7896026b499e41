"""The local dashboard (aiohttp on 127.0.0.1): the review queue with approve/reject, published posts
with their images, model versions and their metrics, GAN progress, scheduled jobs, and `/healthz`.

Pages are rendered on the server; actions are plain POST forms carrying a per-process token, so
another web page cannot press the buttons for you. Database work runs in threads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import func, select

from bot import outbox
from bot.core import posts
from bot.core.runtime import Runtime
from bot.core.schedule import next_runs
from bot.dashboard import pages
from bot.errors import USER_ERRORS
from models.errors import NoServingModel
from models.registry import Registry
from storage.imagesets import ImageSet
from storage.outbox import GeneratedItem, Post, PostStatus

log = logging.getLogger("nowbot.dashboard")
RUNTIME = web.AppKey("runtime", Runtime)
CSRF = web.AppKey("csrf", str)
# The dashboard listens on 127.0.0.1 and has no logins: its reviews are stored under this name.
DASHBOARD_REVIEWER = "dashboard"
QUEUE = (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.UNKNOWN,
         PostStatus.FAILED)


def create_dashboard(runtime: Runtime) -> web.Application:
    """The dashboard application for this process's runtime."""
    application = web.Application()
    application[RUNTIME] = runtime
    application[CSRF] = secrets.token_urlsafe(24)
    application.add_routes([
        web.get("/", overview),
        web.get("/healthz", healthz),
        web.get("/items/{item_id:\\d+}", item_image),
        web.get("/gan/{image_set}/progress.gif", progress_gif),
        web.post("/posts/{post_id:\\d+}/{action:approve|reject|regenerate}", post_action),
    ])
    return application


async def start_dashboard(runtime: Runtime) -> web.AppRunner:
    """Serve the dashboard on the configured host and port; returns the runner to clean up."""
    settings = runtime.app.settings
    runner = web.AppRunner(create_dashboard(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.dashboard_host, settings.dashboard_port)
    await site.start()
    for address in runner.addresses:
        log.info("dashboard on http://%s:%s/", *address[:2])
    return runner


def _in_thread(request: web.Request, work: Callable[[Runtime], Any]) -> Awaitable[Any]:
    return asyncio.to_thread(work, request.app[RUNTIME])


# -- pages -------------------------------------------------------------------------------------

def _overview(runtime: Runtime, csrf: str) -> list[tuple[str, str]]:
    app = runtime.app
    registry = Registry(app.sessions, app.artifacts_dir)
    with app.sessions() as session:
        sets = list(session.scalars(select(ImageSet.name).order_by(ImageSet.name)))
        batches: dict[str, int] = {}
        items = session.scalars(
            select(GeneratedItem).where(GeneratedItem.kind == "image_batch")
            .order_by(GeneratedItem.id.desc()).limit(50)
        )
        for item in items:
            batches.setdefault(item.details.get("image_set", ""), item.id)
    return [
        ("Queue", pages.queue_table(outbox.posts(app.sessions, *QUEUE), csrf)),
        ("Published", pages.published_table(outbox.posts(app.sessions, PostStatus.PUBLISHED, limit=20))),
        ("Model versions", pages.versions_table(registry.versions()[:30])),
        ("GAN progress", pages.gan_section(sets, batches)),
        ("Scheduled jobs", pages.jobs_table(next_runs(app, runtime.scheduler), runtime.scheduler is not None)),
    ]


async def overview(request: web.Request) -> web.Response:
    csrf = request.app[CSRF]
    sections = await _in_thread(request, lambda runtime: _overview(runtime, csrf))
    html = pages.page("nowbot", request.query.get("notice"), sections)
    return web.Response(text=html, content_type="text/html")


def _health(runtime: Runtime) -> tuple[int, dict[str, Any]]:
    publishers = dict(runtime.publishers)
    try:
        with runtime.app.sessions() as session:
            counts = dict(session.execute(select(Post.status, func.count(Post.id)).group_by(Post.status)).all())
            budgets = {
                name: {"spent_usd": round(outbox.month_spend(session, name), 4),
                       "budget_usd": publisher.monthly_budget_usd}
                for name, publisher in publishers.items() if publisher.monthly_budget_usd is not None
            }
    except Exception as error:  # noqa: BLE001  (report, do not crash the probe)
        return 503, {"status": "error", "database": type(error).__name__}
    scheduler = runtime.scheduler
    return 200, {
        "status": "ok", "database": "ok", "leader": scheduler is not None,
        "scheduler": "running" if scheduler is not None and scheduler.running else "standby",
        "jobs": len(scheduler.get_jobs()) if scheduler is not None else None,
        "posts": counts, "publishers": sorted(publishers), "month_budgets": budgets,
    }


async def healthz(request: web.Request) -> web.Response:
    status, body = await _in_thread(request, _health)
    return web.json_response(body, status=status)


def _item_file(runtime: Runtime, item_id: int) -> Path | None:
    with runtime.app.sessions() as session:
        item = session.get(GeneratedItem, item_id)
    if item is None or not item.artifact_path:
        return None
    path = Path(item.artifact_path).resolve()
    inside = path.is_relative_to(runtime.app.artifacts_dir.resolve())
    return path if inside and path.is_file() else None


async def item_image(request: web.Request) -> web.StreamResponse:
    item_id = int(request.match_info["item_id"])
    path = await _in_thread(request, lambda runtime: _item_file(runtime, item_id))
    if path is None:
        raise web.HTTPNotFound(text="no such image")
    return web.FileResponse(path)


async def progress_gif(request: web.Request) -> web.Response:
    name = request.match_info["image_set"]
    try:
        data = await _in_thread(request, lambda runtime: runtime.generator.progress_gif(runtime.app, name))
    except NoServingModel as error:
        raise web.HTTPNotFound(text=str(error)) from None
    return web.Response(body=data, content_type="image/gif")


# -- actions -----------------------------------------------------------------------------------

def _act(runtime: Runtime, post_id: int, action: str) -> str:
    app = runtime.app
    if action == "approve":
        outbox.approve(app.sessions, post_id, reviewer=DASHBOARD_REVIEWER)
        return f"post {post_id} approved: it will be published on the next outbox run"
    if action == "reject":
        outbox.reject(app.sessions, post_id, reviewer=DASHBOARD_REVIEWER)
        return f"post {post_id} rejected"
    posts.regenerate(app, runtime.generator, post_id)
    return f"post {post_id} regenerated"


async def post_action(request: web.Request) -> web.Response:
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.app[CSRF]):
        raise web.HTTPForbidden(text="stale or missing form token: reload the page")
    post_id, action = int(request.match_info["post_id"]), request.match_info["action"]
    try:
        notice = await _in_thread(request, lambda runtime: _act(runtime, post_id, action))
    except USER_ERRORS as error:
        notice = str(error)
    raise web.HTTPSeeOther(location="/?" + urlencode({"notice": notice}))
