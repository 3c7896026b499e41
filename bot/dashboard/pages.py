"""The dashboard's pages: each is a path, a title in the navigation, a Jinja2 template under
`templates/` and a function that gathers what it shows (run in a thread, off the event loop).

Adding a page: write `templates/NAME.html` (extending `base.html`), a function
`(Runtime) -> dict` for its context, and one `Page` in `PAGES`; `routes()` serves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.core.logs import last_lines
from bot.core.runtime import Runtime
from bot.core.schedule import next_runs
from bot.dashboard import draw_page, model_views, post_views
from bot.dashboard.access import ACCESS
from bot.dashboard.keys import CSRF, NOTES, RUNTIME
from bot.dashboard.notices import notice


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    template: str
    context: Callable[[Runtime], dict[str, Any]]


def system_page(runtime: Runtime) -> dict[str, Any]:
    """The scheduled jobs (next run, running now) and the last log lines."""
    return {
        "jobs": next_runs(runtime.app, runtime.scheduler),
        "leader": runtime.scheduler is not None,
        "logs": last_lines(runtime.app),
    }


PAGES = (
    Page("/", "Queue", "queue.html", post_views.queue_page),
    Page("/published", "Published", "published.html", post_views.published_page),
    Page("/models", "Models", "models.html", model_views.models_page),
    Page("/images", "Images", "images.html", model_views.images_page),
    Page("/draw", "Draw", "draw.html", draw_page.draw_page),
    Page("/system", "Jobs & logs", "system.html", system_page),
)
PATHS = frozenset(page.path for page in PAGES)  # where an action may send the browser back to
# The largest id a row can have: ids are INTEGER columns, 32 bits on PostgreSQL (SQLite's hold 64),
# and either database answers a larger number with an error rather than "no row".
MAX_ID = 2**31 - 1


def path_id(request: web.Request, name: str) -> int:
    """The number in the path's `name` part (routed as digits); 404 ("no such post") beyond
    `MAX_ID`."""
    digits = request.match_info[name].lstrip("0") or "0"
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise web.HTTPNotFound(text=f"no such {name.removesuffix('_id')}")
    return int(digits)


def _handler(page: Page) -> Callable[[web.Request], Any]:
    async def show(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        key, ref = request.query.get("notice", ""), request.query.get("ref", "")
        post = request.query.get("post", "")
        said, context = await asyncio.to_thread(
            lambda: (notice(request.app[NOTES], runtime, key, post, ref), page.context(runtime)))
        return aiohttp_jinja2.render_template(page.template, request, {
            **context, "page": page, "pages": PAGES, "notice": said, "csrf": request.app[CSRF],
            "logout": request.app[ACCESS].password is not None,
        })

    return show


def routes() -> list[web.RouteDef]:
    """A GET route per page."""
    return [web.get(page.path, _handler(page)) for page in PAGES]
