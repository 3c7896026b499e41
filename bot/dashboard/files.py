"""What the pages load besides themselves: generated images, a version's grid and progress GIF,
learning-curve charts, and the live length count of the edit box. Files are served only from
inside the artifacts folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from bot.core.runtime import Runtime
from bot.dashboard import charts, model_views, post_views
from bot.dashboard.pages import path_id
from bot.dashboard.keys import RUNTIME
from storage.outbox import GeneratedItem

MAX_TEXT = 10_000  # characters the length counter reads


def _item_file(runtime: Runtime, item_id: int) -> Path | None:
    with runtime.app.sessions() as session:
        item = session.get(GeneratedItem, item_id)
    if item is None or not item.artifact_path:
        return None
    path = Path(item.artifact_path).resolve()
    inside = path.is_relative_to(runtime.app.artifacts_dir.resolve())
    return path if inside and path.is_file() else None


async def item_image(request: web.Request) -> web.StreamResponse:
    item_id = path_id(request, "item_id")
    path = await asyncio.to_thread(_item_file, request.app[RUNTIME], item_id)
    if path is None:
        raise web.HTTPNotFound(text="no such image")
    return web.FileResponse(path)


async def version_file(request: web.Request) -> web.StreamResponse:
    version_id, name = path_id(request, "version_id"), request.match_info["name"]
    path = await asyncio.to_thread(model_views.version_file, request.app[RUNTIME], version_id, name)
    if path is None:
        raise web.HTTPNotFound(text="this version has no such file")
    return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})  # versions never change


async def run_chart(request: web.Request) -> web.Response:
    run_id = path_id(request, "run_id")

    def draw() -> bytes | None:
        found = model_views.run_curve(request.app[RUNTIME], run_id)
        return charts.curve_svg(charts.series(found[1]), found[0]) if found else None

    svg = await asyncio.to_thread(draw)
    if svg is None:
        raise web.HTTPNotFound(text="this training run recorded no curve")
    return web.Response(body=svg, content_type="image/svg+xml")


async def text_length(request: web.Request) -> web.Response:
    """GET /length?platform=x&text=...: the text's length as that platform counts it."""
    platform, text = request.query.get("platform", ""), request.query.get("text", "")[:MAX_TEXT]
    try:
        counted = post_views.text_length(platform, text)
    except ValueError:
        raise web.HTTPNotFound(text="no such platform") from None
    return web.json_response(counted)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/items/{item_id:\\d+}", item_image),
        web.get("/versions/{version_id:\\d+}/{name}", version_file),
        web.get("/charts/runs/{run_id:\\d+}.svg", run_chart),
        web.get("/length", text_length),
    ]
