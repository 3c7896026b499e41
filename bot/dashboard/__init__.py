"""The dashboard (aiohttp, 127.0.0.1 by default): the review queue with approve/reject, published
posts with their images, model versions and their metrics, GAN progress, scheduled jobs, and
`/healthz`.

Pages are rendered on the server; actions are plain POST forms carrying a per-process token, and
`access` refuses other Host names, cross-site posts and, with a password set (required off the
loopback), anyone not logged in, so another web page cannot press the buttons for you. Notices
after an action are keys into a fixed table. Database work runs in threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import func, select

from bot import outbox
from bot.core import posts
from bot.core.runtime import Runtime
from bot.core.schedule import next_runs
from bot.dashboard import access, pages
from bot.errors import USER_ERRORS, NowbotError
from models.errors import NoServingModel
from models.registry import Registry
from storage.imagesets import ImageSet
from storage.outbox import GeneratedItem, Post, PostStatus

log = logging.getLogger("nowbot.dashboard")
RUNTIME = web.AppKey("runtime", Runtime)
CSRF = web.AppKey("csrf", str)
# One shared password at most, no user names: reviews made here are stored under this name.
DASHBOARD_REVIEWER = "dashboard"
QUEUE = (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.UNKNOWN,
         PostStatus.FAILED)
# What `/?notice=KEY&post=ID` may say: nothing else is ever shown, and the status is read from the
# database, so a link cannot put words on the page.
NOTICES = {
    "approved": "post {post} approved: it will be published on the next outbox run",
    "rejected": "post {post} rejected",
    "regenerated": "post {post} regenerated",
    "approve-refused": "post {post} is {status}: it cannot become approved",
    "reject-refused": "post {post} is {status}: it cannot become rejected",
    "regenerate-refused": "post {post} is {status}: only drafts can be regenerated",
    "failed": "post {post}: that did not work; the log says why",
}
NO_POST = "no post with id {post}"
DONE = {"approve": "approved", "reject": "rejected", "regenerate": "regenerated"}  # notice keys


class DashboardError(NowbotError):
    """The dashboard cannot start; the message says which setting to change."""


class DashboardPortInUse(DashboardError):
    """Something else already listens on the dashboard's port."""


def create_dashboard(runtime: Runtime) -> web.Application:
    """The dashboard application for this process's runtime; refuses to serve a network address
    without a password."""
    settings = runtime.app.settings
    if settings.dashboard_password is None and not access.is_loopback(settings.dashboard_host):
        raise DashboardError(
            f"the dashboard on {settings.dashboard_host} would let anyone who reaches it approve "
            "posts: set NOWBOT_DASHBOARD_PASSWORD, or NOWBOT_DASHBOARD_HOST=127.0.0.1"
        )
    rules = access.Access(settings.dashboard_host, settings.dashboard_hosts,
                          settings.dashboard_password)
    application = web.Application(middlewares=[rules.middleware])
    application[RUNTIME] = runtime
    application[CSRF] = secrets.token_urlsafe(24)
    application[access.ACCESS] = rules
    application.add_routes([
        web.get("/", overview),
        web.get("/healthz", healthz),
        web.get("/login", access.login_form),
        web.post("/login", access.login),
        web.post("/logout", access.logout),
        web.get("/items/{item_id:\\d+}", item_image),
        web.get("/gan/{image_set}/progress.gif", progress_gif),
        web.post("/posts/{post_id:\\d+}/{action:approve|reject|regenerate}", post_action),
    ])
    return application


async def start_dashboard(runtime: Runtime) -> web.AppRunner:
    """Serve the dashboard on the configured host and port; returns the runner to clean up.
    Raises `DashboardError` (`DashboardPortInUse` for a busy port) with a one-line message."""
    settings = runtime.app.settings
    runner = web.AppRunner(create_dashboard(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.dashboard_host, settings.dashboard_port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        where = f"{settings.dashboard_host}:{settings.dashboard_port}"
        if error.errno == errno.EADDRINUSE:
            raise DashboardPortInUse(f"dashboard port {where} is already in use (another nowbot "
                                     "run?); set NOWBOT_DASHBOARD_PORT") from None
        raise DashboardError(f"the dashboard cannot listen on {where}: {error.strerror or error}; "
                             "check NOWBOT_DASHBOARD_HOST and NOWBOT_DASHBOARD_PORT") from None
    login = "with a password" if settings.dashboard_password else "without a login (loopback only)"
    for address in runner.addresses:
        log.info("dashboard on http://%s:%s/ %s", *address[:2], login)
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


def _notice(runtime: Runtime, key: str, post_id: str) -> str | None:
    """The fixed text of notice `key` about post `post_id`, with the post's current status."""
    text = NOTICES.get(key)
    if text is None or not (post_id.isascii() and post_id.isdigit() and len(post_id) < 10):
        return None
    with runtime.app.sessions() as session:
        post = session.get(Post, int(post_id))
    return text.format(post=post.id, status=post.status) if post else NO_POST.format(post=int(post_id))


async def overview(request: web.Request) -> web.Response:
    csrf, key, post_id = request.app[CSRF], request.query.get("notice", ""), request.query.get("post", "")
    notice, sections = await _in_thread(
        request, lambda runtime: (_notice(runtime, key, post_id), _overview(runtime, csrf))
    )
    logout = request.app[access.ACCESS].password is not None
    return web.Response(text=pages.page("nowbot", notice, sections, logout), content_type="text/html")


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

async def post_action(request: web.Request) -> web.Response:
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.app[CSRF]):
        raise web.HTTPForbidden(text="stale or missing form token: reload the page")
    post_id = int(request.match_info["post_id"])
    action = cast(posts.ReviewAction, request.match_info["action"])
    try:
        await _in_thread(request, lambda runtime: posts.review(
            runtime.app, runtime.generator, post_id, action, DASHBOARD_REVIEWER))
        notice = DONE[action]
    except outbox.OutboxError:  # the post's status does not allow it (or it is gone)
        notice = f"{action}-refused"
    except USER_ERRORS as error:
        log.warning("post %s: %s failed: %s", post_id, action, error)
        notice = "failed"
    raise web.HTTPSeeOther(location="/?" + urlencode({"notice": notice, "post": post_id}))
