"""Drawing with a set's draw model: a person's uploaded picture in, the picture the model read
and its result side by side out (a PNG for chat); and a "sketch -> drawing" pair for campaign
posts. The CLI, Discord and the dashboard all call `draw`: `check_drawing` first (no pixel decoded:
the model serves, the file's bytes and the size its header declares), then `render` (decoding and
drawing, the costly part), which the dashboard runs in a bounded pool of its own. TensorFlow is
imported only when a model first draws.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from bot.app import App
from bot.errors import NowbotError
from corpora.imagesets import IMAGE_FORMATS, decode_image, load_pixels
from corpora.names import check_name
from models.draw.config import MODES, Mode
from models.draw.run import KIND, draw_target
from models.errors import NoServingModel
from models.registry import Registry

MAX_DRAWING_BYTES = 8 * 1024 * 1024  # an upload larger than this is refused unread
# Pixels a side a drawing may declare: a phone photo (4032x3024) fits, a draw model reads at most
# 128. Decoded and read, such a picture takes about 200 MB; 8000x8000 took 500 MB.
MAX_DRAWING_SIDE = 4096


class DrawingRefused(NowbotError):
    """An uploaded drawing that is too large or of an unknown mode."""


class DrawingTooLarge(DrawingRefused):
    """An upload over `MAX_DRAWING_BYTES` or `MAX_DRAWING_SIDE`, refused before it is decoded."""


def check_mode(mode: str) -> Mode:
    """`mode` if it is a draw mode, else a one-line error."""
    if mode not in MODES:
        raise DrawingRefused(f"unknown mode '{mode[:20]}': use {' or '.join(MODES)}")
    return mode  # type: ignore[return-value]


def check_request(set_name: str, mode: str) -> Mode:
    """The mode, after checking it and the set's name (one-line errors)."""
    check_name("image set", set_name)
    return check_mode(mode)


def check_size(size: int) -> None:
    """Refuse an upload of `size` bytes over `MAX_DRAWING_BYTES` before it is read."""
    if size > MAX_DRAWING_BYTES:
        raise DrawingTooLarge(f"the drawing is {size / 2**20:.1f} MB; at most "
                             f"{MAX_DRAWING_BYTES // 2**20} MB, please")


def serving_modes(app: App, set_name: str) -> list[Mode]:
    """The modes in which `set_name` has a serving draw model."""
    registry = Registry(app.sessions, app.artifacts_dir)
    return [mode for mode in MODES if registry.serving(KIND, draw_target(set_name, mode)) is not None]


def default_set(app: App, mode: Mode) -> str:
    """The first set (by name) whose draw model serves in `mode`; `NoServingModel` if none."""
    targets = sorted(v.target for v in Registry(app.sessions, app.artifacts_dir).serving_versions(KIND))
    for target in targets:
        name, _, suffix = target.partition(":")
        if (suffix or "sketch") == mode:
            return name
    raise NoServingModel(f"no image set has a serving {mode} draw model yet: train one first")


def check_upload(content_type: str | None, size: int) -> None:
    """Refuse an upload that does not say it is an image, or is too large, before reading it."""
    if not (content_type or "").startswith("image/"):
        raise DrawingRefused("that file is not an image: send a PNG, JPEG, GIF, BMP, WebP or TIFF")
    check_size(size)


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def check_dimensions(data: bytes) -> None:
    """Refuse a drawing whose header declares a side over `MAX_DRAWING_SIDE`, before any pixel is
    decoded (Pillow's `open` reads the header only); one Pillow cannot open is refused as
    `decode_image` words it."""
    limit = f"at most {MAX_DRAWING_SIDE} pixels a side, please"
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours
        raise DrawingTooLarge(f"the drawing is too large (over {Image.MAX_IMAGE_PIXELS:,} pixels); "
                              f"{limit}") from None
    except Exception:  # Pillow raises many types on hostile files
        decode_image(data)  # fails at the same header, with the reason in one line
        raise
    if max(width, height) > MAX_DRAWING_SIDE:
        raise DrawingTooLarge(f"the drawing is too large ({width}x{height} pixels); {limit}")


def check_drawing(app: App, set_name: str, data: bytes, mode: str = "sketch") -> Path:
    """The folder of the model that will draw `data`, once everything that needs no decoding is
    checked: the set's name and mode, the bytes, the declared size and a serving model."""
    checked = check_request(set_name, mode)
    check_size(len(data))
    check_dimensions(data)
    registry = Registry(app.sessions, app.artifacts_dir)
    return registry.serving_path(KIND, draw_target(set_name, checked))


def render(folder: Path, data: bytes) -> bytes:
    """The PNG of a checked drawing (`check_drawing`) as the model in `folder` read it, beside the
    model's result: the decoding and drawing, which take the time and memory."""
    from models.draw.sample import draw as draw_picture

    return _png(draw_picture(folder, decode_image(data)))


def draw(app: App, set_name: str, data: bytes, mode: str = "sketch") -> bytes:
    """The PNG of the drawing in `data` as `set_name`'s serving `mode` model read it, beside the
    model's result. Any size up to `MAX_DRAWING_SIDE` or colours: a pen drawing on white, a
    painted label map, or a photo (its outline is drawn). A broken, empty, oversized or non-image
    file is a one-line error."""
    return render(check_drawing(app, set_name, data, mode), data)


def sketch_pair(app: App, set_name: str, seed: int | None = None) -> bytes:
    """A "sketch -> drawing" PNG: a sketch of one of the set's photos, drawn by the serving sketch
    model; `NoServingModel` when there is none."""
    from models.draw.pairs import conditions
    from models.draw.render import side_by_side
    from models.draw.sample import load_generator, translate

    folder = Registry(app.sessions, app.artifacts_dir).serving_path(KIND, draw_target(set_name, "sketch"))
    config, _ = load_generator(folder)
    with app.sessions() as session:
        photos = load_pixels(session, set_name, limit=1000)
    rng = np.random.default_rng(seed)
    sketch = conditions(photos[rng.integers(len(photos))][None], "sketch", config.style, rng)
    return _png(side_by_side(sketch[0], translate(folder, sketch)[0], config))
