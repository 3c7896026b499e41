"""The Draw page: a canvas whose drawing is posted (multipart: form token, set, mode, the PNG)
to `POST /draw`, which answers with the drawing as the model read it beside the result (a PNG);
a refusal is one line of plain text. Uploads over the size limit are refused before they are read
in full, and everything that needs no decoding (`bot.core.drawing.check_drawing`: a serving model,
the size the image's header declares) is checked before the pixels are decoded. Decoding and
drawing run in `DRAWINGS`, a few threads of their own with a bounded queue (429 when it is full),
never on the event loop nor in the default threads that /healthz and the pages use.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiohttp import BodyPartReader, hdrs, web
from sqlalchemy import select

from bot.core import drawing
from bot.core.runtime import Runtime
from bot.dashboard.keys import CSRF, RUNTIME
from bot.errors import USER_ERRORS
from models.draw.pairs import palette_for
from models.errors import NoServingModel
from storage.imagesets import ImageSet

log = logging.getLogger("nowbot.dashboard")
FIELDS = ("csrf", "set", "mode")  # the form's text fields, beside the `drawing` file
MAX_FIELD = 200  # bytes of a text field; a token or a set name is far shorter
FORM_SLACK = 64 * 1024  # multipart headers and text fields around the drawing
COLOUR_NAMES = {(255, 255, 255): "white (background)", (30, 30, 30): "black", (130, 130, 130): "grey",
                (205, 35, 40): "red", (115, 20, 30): "dark red", (235, 135, 40): "orange",
                (235, 210, 70): "yellow", (85, 165, 55): "green", (115, 75, 40): "brown",
                (45, 85, 200): "blue", (0, 0, 0): "black (background)", (128, 128, 128): "grey"}
# Drawings decoded and drawn at once: each takes up to ~150 MB beside the ~700 MB TensorFlow
# holds; two at once took the dashboard past 1 GB (benchmarks/flood.py).
DRAW_THREADS = 1
DRAW_WAITING = 8  # requests that may wait for a thread (their uploads held); more are refused
BUSY_RETRY_S = 10  # the 429's Retry-After
T = TypeVar("T")


@dataclass(frozen=True)
class DrawSet:
    name: str
    modes: list[str]  # the modes with a serving draw model
    palette: list[dict[str, str]]  # label colours, the background first: {"colour": "#rrggbb", "name"}


def _palette(channels: int) -> list[dict[str, str]]:
    swatches = []
    for entry in palette_for(channels):
        rgb = tuple(int(v) for v in entry) * (3 if len(entry) == 1 else 1)
        hex_colour = "#" + "".join(f"{v:02x}" for v in rgb)
        swatches.append({"colour": hex_colour, "name": COLOUR_NAMES.get(rgb, hex_colour)})
    return swatches


def draw_page(runtime: Runtime) -> dict[str, Any]:
    """The image sets with a serving draw model, their modes and label palettes."""
    app = runtime.app
    with app.sessions() as session:
        sets = session.execute(select(ImageSet.name, ImageSet.channels).order_by(ImageSet.name)).all()
    choices = [DrawSet(name, list(modes), _palette(channels))
               for name, channels in sets if (modes := drawing.serving_modes(app, name))]
    return {"sets": choices, "refresh": 0}  # no reload: it would wipe a drawing


class Refused(Exception):
    """A drawing refused with an HTTP status, a one-line reason and any headers to send."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _answer(refusal: Refused) -> web.Response:
    return web.Response(status=refusal.status, text=str(refusal),
                        headers={"Cache-Control": "no-store", **refusal.headers})


class DrawQueue:
    """Where `POST /draw` requests wait: at most `threads + waiting` at once, from reading the
    upload to the answer, and `threads` decoding and drawing in threads of their own."""

    def __init__(self, threads: int, waiting: int) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="nowbot-draw")
        self._places = threading.BoundedSemaphore(threads + waiting)

    @contextmanager
    def place(self) -> Iterator[None]:
        """A place for one request while it lasts; `Refused` (429) when none is free."""
        if not self._places.acquire(blocking=False):
            raise Refused(429, "busy with other drawings: try again in a few seconds",
                          {hdrs.RETRY_AFTER: str(BUSY_RETRY_S)})
        try:
            yield
        finally:
            self._places.release()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in one of the queue's threads, once one is free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(function, *args))


DRAWINGS = DrawQueue(DRAW_THREADS, DRAW_WAITING)


async def _read(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None as soon as they pass `limit`."""
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def _form(request: web.Request) -> tuple[dict[str, str], bytes, str | None]:
    """The text fields, the drawing's bytes and its content type; `Refused` for a form that is not
    multipart, too large or has no drawing."""
    if request.content_type != "multipart/form-data":
        raise Refused(400, "send the drawing as a multipart form (field 'drawing')")
    length = request.content_length or 0
    if length > drawing.MAX_DRAWING_BYTES + FORM_SLACK:  # refused unread
        _check_size(length)
    fields: dict[str, str] = {}
    data, content_type = None, None
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader):
            raise Refused(400, "nested multipart forms are not read")
        if part.name == "drawing":
            data, content_type = await _read(part, drawing.MAX_DRAWING_BYTES), part.headers.get(hdrs.CONTENT_TYPE)
            if data is None:  # no length said: read up to the limit
                _check_size(drawing.MAX_DRAWING_BYTES + 1)
        elif part.name in FIELDS:
            value = await _read(part, MAX_FIELD)
            fields[part.name] = (value or b"").decode("utf-8", "replace")
    if data is None:
        raise Refused(400, "the form has no drawing (field 'drawing')")
    return fields, data, content_type


def _check_size(size: int) -> None:
    """`Refused` (413) with the use case's reason for a drawing of `size` bytes over the limit."""
    try:
        drawing.check_size(size)
    except drawing.DrawingTooLarge as error:
        raise Refused(413, str(error)) from None


async def _draw(runtime: Runtime, fields: dict[str, str], data: bytes, content_type: str | None) -> bytes:
    set_name, mode = fields.get("set", ""), fields.get("mode", "sketch")
    try:
        drawing.check_upload(content_type, len(data))
        folder = await asyncio.to_thread(drawing.check_drawing, runtime.app, set_name, data, mode)
        return await DRAWINGS.run(drawing.render, folder, data)
    except NoServingModel as error:
        raise Refused(404, str(error)) from None
    except drawing.DrawingTooLarge as error:
        raise Refused(413, str(error)) from None
    except USER_ERRORS as error:
        log.info("drawing with %s (%s) refused: %s", set_name[:64], mode[:20], error)
        raise Refused(400, str(error)) from None


async def draw_drawing(request: web.Request) -> web.Response:
    """POST /draw: the drawing and the set's model's result side by side (PNG); a refusal (no
    form token, not an image, too large, no serving model, too many drawings at once) is one
    line of text."""
    try:
        with DRAWINGS.place():
            fields, data, content_type = await _form(request)
            token = fields.get("csrf", "").encode()
            if not secrets.compare_digest(token, request.app[CSRF].encode()):
                raise Refused(403, "stale or missing form token: reload the page")
            png = await _draw(request.app[RUNTIME], fields, data, content_type)
    except Refused as refusal:
        return _answer(refusal)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})
