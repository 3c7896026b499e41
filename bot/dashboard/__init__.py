"""The dashboard (aiohttp, 127.0.0.1 by default): the review queue with an edit box and
approve / reject / regenerate / undo / schedule, why each draft's text was chosen and the
campaign's review model (train, switch off or on, reset), published posts with their images and
links, model versions with their learning curves and metrics in words, trainings running now,
GAN grids and progress animations, a canvas to draw on for a set's draw model (`draw_page`), the
scheduled jobs and the last log lines, and `/healthz`.

Pages are Jinja2 templates (`templates/`, autoescaped) rendered on the server, listed in
`pages.PAGES`; charts are SVG drawn by matplotlib (`charts`). Actions are plain POST forms
carrying a per-process token (`actions`), and `access` refuses other Host names, cross-site posts
and, with a password set (required off the loopback), anyone not logged in, so another web page
cannot press the buttons for you. Notices after an action are keys (`notices`). Database work
runs in threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import func, select

from bot import health, platform_health, publishing
from bot.core.runtime import Runtime
from bot.dashboard import access, actions, draw_page, files, pages
from bot.dashboard.keys import CSRF, NOTES, RUNTIME
from bot.dashboard.notices import Notes
from storage.base import as_utc
from bot.errors import NowbotError
from storage.outbox import Post

log = logging.getLogger("nowbot.dashboard")
HERE = Path(__file__).parent
__all__ = ["CSRF", "RUNTIME", "DashboardError", "DashboardPortInUse", "create_dashboard",
           "start_dashboard"]


class DashboardError(NowbotError):
    """The dashboard cannot start; the message says which setting to change."""


class DashboardPortInUse(DashboardError):
    """Something else already listens on the dashboard's port."""


def _when(moment: Any) -> str:
    """A stored time as pages show it (UTC)."""
    return f"{as_utc(moment):%Y-%m-%d %H:%M} UTC" if moment else "-"


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
    application[NOTES] = Notes()
    application[access.ACCESS] = rules
    environment = aiohttp_jinja2.setup(
        application, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["when"] = _when
    application.add_routes([
        *pages.routes(),
        *files.routes(),
        web.get("/healthz", healthz),
        web.get("/login", access.login_form),
        web.post("/login", access.login),
        web.post("/logout", access.logout),
        web.post(f"/posts/{{post_id:\\d+}}/{{action:{actions.ACTION_PATTERN}}}", actions.post_action),
        web.post(f"/review-model/{{action:{actions.REVIEW_PATTERN}}}", actions.review_action),
        web.post("/draw", draw_page.draw_drawing),
        web.static("/static", HERE / "static"),
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
        log.debug("dashboard on http://%s:%s/ %s", *address[:2], login)  # the service says it
    return runner


def _health(runtime: Runtime) -> tuple[int, dict[str, Any]]:
    """503 when the database does not answer, or when the service is sick (`bot.health`: its
    scheduler's thread died or a job is overdue), with the reasons; else 200."""
    publishers = dict(runtime.publishers)
    scheduler = runtime.scheduler
    try:
        with runtime.app.sessions() as session:
            counts = dict(session.execute(select(Post.status, func.count(Post.id)).group_by(Post.status)).all())
            budgets = {
                name: {"spent_usd": round(publishing.month_spend(session, name), 4),
                       "budget_usd": publisher.monthly_budget_usd}
                for name, publisher in publishers.items() if publisher.monthly_budget_usd is not None
            }
            failing = platform_health.summaries(session)
        jobs = len(scheduler.get_jobs()) if scheduler is not None else None
    except Exception as error:  # noqa: BLE001  (report, do not crash the probe)
        return 503, {"status": "error", "database": type(error).__name__}
    problems = health.problems(runtime)
    return 503 if problems else 200, {
        "status": "sick" if problems else "ok", "problems": problems, "database": "ok",
        "leader": scheduler is not None,
        "scheduler": "running" if scheduler is not None and scheduler.running else "standby",
        "jobs": jobs, "posts": counts, "publishers": sorted(publishers), "month_budgets": budgets,
        "failing_platforms": failing,  # paused after repeated failures: the others publish
    }


async def healthz(request: web.Request) -> web.Response:
    status, body = await asyncio.to_thread(_health, request.app[RUNTIME])
    return web.json_response(body, status=status)
