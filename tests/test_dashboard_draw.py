"""The dashboard's Draw page with a real (tiny) draw model: `POST /draw` answers a drawing with the
drawing and the result side by side, refuses broken, oversized and non-image uploads in one line
(an image declaring too many pixels before it is decoded), and keeps the login, form token and
same-origin rules; a flood of drawings waits in a bounded queue (429 past it) while /healthz
answers; in headless Chromium a person draws strokes with the mouse, undoes one, presses Draw and
sees the picture, also at a phone's width."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from pydantic import SecretStr

from bot.app import App, open_app
from bot.config import Settings
from bot.core.drawing import MAX_DRAWING_BYTES, MAX_DRAWING_SIDE
from bot.core.runtime import Runtime
from bot.dashboard import CSRF, create_dashboard
from bot.dashboard.draw_page import DRAW_THREADS, DRAW_WAITING
from corpora.imagesets import import_images, load_pixels
from models.draw.pairs import COLOUR_PALETTE
from browser import DESKTOP, PHONE, chromium, overflows, serve
from service_harness import StubGenerator
from test_dashboard import PASSWORD, runtime_for
from test_draw import _disc_folder, _pen_drawing, _train, train_tiny

PANELS = ((1 + 2 * 17) * 16, (1 + 17) * 16)  # drawing | result, 16 px panels shown 16x


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime whose set 'tiny' (grey digits) has a serving sketch model only, and 'discs'
    (colour) a label model only."""
    folder = tmp_path_factory.mktemp("draw")
    app = open_app(Settings(data_dir=folder / "var"))
    train_tiny(app)
    with app.sessions.begin() as session:
        import_images(session, app.artifacts_dir, "discs", str(_disc_folder(folder)), size=16)
    with app.sessions() as session:
        assert _train(app, load_pixels(session, "discs"), "discs", mode="labels", epochs=1).verdict.promoted
    yield Runtime(app=app, generator=StubGenerator(), publishers={})
    app.engine.dispose()


def _drawing() -> bytes:
    return _pen_drawing(Path("pen.png")).read_bytes()  # a pen ring on white, in the test's folder


async def _post(client: TestClient, data: bytes, content_type: str = "image/png",
                token: str | None = None, origin: str | None = None,
                **fields: str) -> tuple[int, str, bytes, dict[str, str]]:
    """POST /draw as the page's script does: status, content type, body and headers."""
    form = FormData()
    form.add_field("csrf", client.server.app[CSRF] if token is None else token)
    for name, value in {"set": "tiny", "mode": "sketch", **fields}.items():
        form.add_field(name, value)
    form.add_field("drawing", data, filename="drawing.png", content_type=content_type)
    here = str(client.make_url("/").origin())
    response = await client.post("/draw", data=form, headers={"Origin": origin or here})
    return response.status, response.content_type, await response.read(), dict(response.headers)


def _send(runtime: Runtime, data: bytes, content_type: str = "image/png", token: str | None = None,
          origin: str | None = None, **fields: str) -> tuple[int, str, bytes]:
    """One drawing posted to a fresh dashboard: status, content type and body of the answer."""
    async def main() -> tuple[int, str, bytes]:
        async with TestClient(TestServer(create_dashboard(runtime))) as client:
            return (await _post(client, data, content_type, token, origin, **fields))[:3]

    return asyncio.run(main())


def _line(body: bytes) -> str:
    text = body.decode()
    assert "\n" not in text.strip() and "Traceback" not in text
    return text


def test_a_drawing_comes_back_beside_its_picture(trained: Runtime) -> None:
    status, content_type, body = _send(trained, _drawing())
    assert (status, content_type) == (200, "image/png")
    with Image.open(io.BytesIO(body)) as picture:
        assert picture.size == PANELS
        assert np.asarray(picture.convert("L"))[:, : picture.width // 2].min() == 0  # the pen line


def test_broken_and_non_image_uploads_are_one_line_400s(trained: Runtime) -> None:
    status, _, body = _send(trained, b"\x89PNG\r\n\x1a\n not really")
    assert status == 400 and _line(body).startswith("not a usable image")
    status, _, body = _send(trained, b"hello", content_type="text/plain")
    assert status == 400 and _line(body).startswith("that file is not an image")
    status, _, body = _send(trained, _drawing(), mode="paint")
    assert status == 400 and _line(body).startswith("unknown mode 'paint'")


def test_no_serving_model_is_a_one_line_404(trained: Runtime) -> None:
    status, _, body = _send(trained, _drawing(), mode="labels")  # 'tiny' has a sketch model only
    assert status == 404 and "no serving draw model" in _line(body)


def test_too_large_drawings_are_413s(trained: Runtime) -> None:
    status, _, body = _send(trained, b"\x89PNG" + bytes(9 * 2**20))  # refused by its length, unread
    assert status == 413 and _line(body) == "the drawing is 9.0 MB; at most 8 MB, please"
    status, _, body = _send(trained, bytes(MAX_DRAWING_BYTES + 1))  # within the form's slack: read to the limit
    assert status == 413 and "at most 8 MB" in _line(body)


def test_without_the_form_token_or_from_another_site_is_refused(trained: Runtime) -> None:
    status, _, body = _send(trained, _drawing(), token="forged")
    assert status == 403 and _line(body) == "stale or missing form token: reload the page"
    status, _, body = _send(trained, _drawing(), token="")
    assert status == 403 and "form token" in _line(body)
    status, _, body = _send(trained, _drawing(), origin="http://evil.example")
    assert status == 403 and _line(body) == "cross-site request refused"


def _encoded(picture: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, image_format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def largest_photo() -> bytes:
    """A smooth colour photo as large as a drawing may be, as a JPEG (a few hundred KB)."""
    ramp = np.linspace(0, 255, MAX_DRAWING_SIDE).astype(np.uint8)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), -1)
    return _encoded(Image.fromarray(pixels), "JPEG")


def test_a_drawing_over_the_side_limit_is_a_413_however_small_its_file(
        trained: Runtime, largest_photo: bytes) -> None:
    huge = _encoded(Image.new("1", (8000, 8000), 1), "PNG")  # 64 megapixels of white
    assert len(huge) < MAX_DRAWING_BYTES // 20
    status, _, body = _send(trained, huge)
    assert status == 413 and _line(body) == ("the drawing is too large (8000x8000 pixels); "
                                             f"at most {MAX_DRAWING_SIDE} pixels a side, please")
    wide = _encoded(Image.new("L", (MAX_DRAWING_SIDE + 1, 8), 255), "PNG")
    status, _, body = _send(trained, wide)
    assert status == 413 and "pixels a side" in _line(body)
    status, content_type, _ = _send(trained, largest_photo)  # at the limit: drawn
    assert (status, content_type) == (200, "image/png")


def test_with_a_password_set_a_drawing_needs_a_login(trained: Runtime) -> None:
    locked = runtime_for(trained.app, dashboard_password=SecretStr(PASSWORD))
    status, _, body = _send(locked, _drawing())
    assert status == 403 and _line(body) == "log in first"


def test_a_flood_of_drawings_waits_in_a_bounded_queue_while_healthz_answers(
        trained: Runtime, largest_photo: bytes) -> None:
    count = DRAW_THREADS + DRAW_WAITING + 2

    async def main() -> tuple[list[tuple[int, str, bytes, dict[str, str]]], int, int]:
        async with TestClient(TestServer(create_dashboard(trained))) as client:
            drawings = [asyncio.create_task(_post(client, largest_photo)) for _ in range(count)]
            # The first answer is a refusal: every place is taken.
            await asyncio.wait(drawings, return_when=asyncio.FIRST_COMPLETED)
            health = (await client.get("/healthz")).status
            drawn_before = sum(task.done() and task.result()[0] == 200 for task in drawings)
            return await asyncio.gather(*drawings), health, drawn_before

    answers, health, drawn_before = asyncio.run(main())
    statuses = [status for status, *_ in answers]
    assert statuses.count(429) >= 1 and statuses.count(200) >= DRAW_THREADS + DRAW_WAITING
    assert set(statuses) == {200, 429}
    busy = next(answer for answer in answers if answer[0] == 429)
    assert _line(busy[2]) == "busy with other drawings: try again in a few seconds"
    assert int(busy[3]["Retry-After"]) > 0
    assert health == 200 and drawn_before < count // 2  # not queued behind the drawings


def test_the_page_says_how_to_train_a_model_before_one_serves(sqlite_app: App) -> None:
    async def main() -> str:
        runtime = Runtime(app=sqlite_app, generator=StubGenerator(), publishers={})
        async with TestClient(TestServer(create_dashboard(runtime))) as client:
            return await (await client.get("/draw")).text()

    page = asyncio.run(main())
    assert "No draw model serves yet" in page and "nowbot train draw --set S" in page
    assert "<canvas" not in page


@pytest.fixture(scope="module")
def site(trained: Runtime) -> Iterator[str]:
    with serve(trained) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _stroke(page: Any, points: list[tuple[float, float]]) -> None:
    """Drag the mouse over the canvas through `points` (fractions of its width and height)."""
    box = page.locator("#draw-canvas").bounding_box()
    where = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*where[0])
    page.mouse.down()
    for x, y in where[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


INK = "() => { const c = document.getElementById('draw-canvas'); " \
      "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; " \
      "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }"
RESULT = "() => { const i = document.querySelector('#draw-result img'); " \
         "return i !== null && i.complete && i.naturalWidth > 0 && !i.closest('[hidden]'); }"


def test_draw_strokes_undo_one_and_see_the_picture(browser: Any, site: str) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/draw")
    page.select_option("#draw-set", "tiny")
    assert page.locator("#draw-mode option[value=labels]").is_disabled()  # 'tiny' serves sketch only
    assert page.eval_on_selector("#draw-palette", "p => p.children.length") == 1  # the black pen
    assert page.evaluate(INK) == 0
    _stroke(page, [(0.5, 0.15), (0.5, 0.85)])  # a 1
    one = page.evaluate(INK)
    page.get_by_role("button", name="thick pen").click()
    _stroke(page, [(0.2, 0.2), (0.8, 0.8)])
    assert page.evaluate(INK) > one
    page.get_by_role("button", name="Undo").click()
    assert page.evaluate(INK) == one  # the second stroke gone, the first kept
    page.get_by_role("button", name="Draw", exact=True).click()
    page.wait_for_function(RESULT, timeout=15_000)
    assert page.locator("#draw-error").is_hidden()
    assert page.eval_on_selector("#draw-result img", "i => [i.naturalWidth, i.naturalHeight]") == list(PANELS)

    page.evaluate("document.getElementById('draw-form').dataset.csrf = 'stale'")  # a restarted dashboard
    page.get_by_role("button", name="Draw", exact=True).click()
    error = page.locator("#draw-error")
    error.wait_for(state="visible")
    assert error.text_content() == "stale or missing form token: reload the page"
    page.get_by_role("button", name="Clear").click()
    assert page.evaluate(INK) == 0


def test_the_draw_page_fits_a_phone_and_draws_by_touch(browser: Any, site: str) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(site + "/draw")
    page.select_option("#draw-set", "tiny")
    assert overflows(page) == []
    box = page.locator("#draw-canvas").bounding_box()
    assert box["width"] >= PHONE["width"] - 80  # the canvas takes the phone's width
    touch = context.new_cdp_session(page)  # a finger's stroke, as the phone's screen sends it
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 20
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for dy in range(5, 205, 5):  # upwards: were it a scroll, the page would move down
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - dy}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert page.evaluate("window.scrollY") == 0  # the stroke drew, it did not scroll the page
    assert page.evaluate(INK) > 1000  # a line, not a dot (a dot is about 30 pixels)
    page.get_by_role("button", name="Draw", exact=True).click()
    page.wait_for_function(RESULT, timeout=15_000)
    assert overflows(page) == []
    context.close()


def test_labels_mode_paints_in_the_sets_label_colours(browser: Any, site: str) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(site + "/draw")
    page.select_option("#draw-set", "discs")
    assert page.eval_on_selector("#draw-mode", "m => m.value") == "labels"  # its only serving mode
    assert page.locator("#draw-mode option[value=sketch]").is_disabled()
    swatches = page.locator("#draw-palette .swatch")
    assert swatches.count() == len(COLOUR_PALETTE)
    assert swatches.first.get_attribute("aria-label") == "white (background)"
    page.get_by_role("button", name="broad pen").click()
    page.get_by_role("button", name="red", exact=True).click()
    for row in range(6):
        _stroke(page, [(0.3, 0.3 + row * 0.07), (0.7, 0.3 + row * 0.07)])
    page.get_by_role("button", name="Draw", exact=True).click()
    page.wait_for_function(RESULT, timeout=15_000)
    read = page.evaluate("""() => {  // the left panel: the label map as the model read it
      const image = document.querySelector('#draw-result img');
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const [r, g, b] = context.getImageData(image.naturalWidth / 4, image.naturalHeight / 2, 1, 1).data;
      return [r, g, b];
    }""")
    assert read == [int(v) for v in COLOUR_PALETTE[3]]  # red, the colour painted
