"""Drawing with a set's draw model: a person's uploaded picture in, the picture the model read
and its result side by side out (a PNG for chat); and a "sketch -> drawing" pair for campaign
posts. The CLI, Discord and the dashboard all call `draw`. TensorFlow is imported only when a
model first draws.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bot.app import App
from bot.errors import NowbotError
from corpora.imagesets import decode_image, load_pixels
from corpora.names import check_name
from models.draw.config import MODES, Mode
from models.draw.run import KIND, draw_target
from models.errors import NoServingModel
from models.registry import Registry

MAX_DRAWING_BYTES = 8 * 1024 * 1024  # an upload larger than this is refused unread


class DrawingRefused(NowbotError):
    """An uploaded drawing that is too large or of an unknown mode."""


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
        raise DrawingRefused(f"the drawing is {size / 2**20:.1f} MB; at most "
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


def draw(app: App, set_name: str, data: bytes, mode: str = "sketch") -> bytes:
    """The PNG of the drawing in `data` as `set_name`'s serving `mode` model read it, beside the
    model's result. Any size or colours: a pen drawing on white, a painted label map, or a photo
    (its outline is drawn). A broken, empty, oversized or non-image file is a one-line error."""
    from models.draw.sample import draw as draw_picture

    checked = check_request(set_name, mode)
    check_size(len(data))
    picture = decode_image(data)
    folder = Registry(app.sessions, app.artifacts_dir).serving_path(KIND, draw_target(set_name, checked))
    return _png(draw_picture(folder, picture))


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
