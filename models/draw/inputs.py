"""A person's picture of any size and colours -> the drawing a draw model reads (NumPy and
Pillow only). A white-background pen drawing keeps its lines, cropped to the drawing and
thickened before shrinking so thin pen lines survive; anything else is taken as a photo, whose
outline becomes the sketch (the GANimals idea: one picture's shape in the set's look). In label
mode every pixel takes its nearest palette colour.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageOps

from models.draw.config import DrawConfig
from models.draw.pairs import conditions, grey, label_maps, palette_for

LIGHT, INK = 0.8, 0.6  # grey levels: paper above LIGHT, pen below INK
# How much of the frame a drawing fills, as the training photos do (MNIST digits sit in a 20 of 28
# pixel box; fruit photos fill most of theirs).
FILL = {"strokes": 20 / 28, "edges": 0.9}


def _flatten(image: Image.Image, mode: str) -> Image.Image:
    """Oriented, transparency over white, converted to `mode` ('L' or 'RGB')."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert(mode)


def is_pen_drawing(image: Image.Image) -> bool:
    """Mostly paper with a little ink: at least half the pixels light, at most a quarter dark."""
    thumb = np.asarray(_flatten(image, "L").resize((128, 128)), np.float32) / 255
    return (thumb > LIGHT).mean() >= 0.5 and (thumb < INK).mean() <= 0.25


def _thicken(pixels: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel the darkest within `radius` of it: Pillow's `MinFilter(2 * radius + 1)`, as two
    one-dimensional passes (its square kernel costs radius squared per pixel: minutes for a
    4096-pixel drawing, against about a second)."""
    padded = np.pad(pixels, radius, constant_values=255)
    rows = sliding_window_view(padded, 2 * radius + 1, axis=0).min(axis=-1)
    return np.ascontiguousarray(sliding_window_view(rows, 2 * radius + 1, axis=1).min(axis=-1))


def _pen_lines(image: Image.Image, config: DrawConfig) -> np.ndarray:
    """A pen drawing's ink, cropped square around it with the training photos' margin, as
    uint8 (size, size, 1), ink 0 on white."""
    picture = _flatten(image, "L")
    ink = np.asarray(picture) < INK * 255
    if not ink.any():
        return np.full((config.size, config.size, 1), 255, np.uint8)
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(max(bottom - top, right - left) / FILL[config.style]) + 1
    cy, cx = (top + bottom) // 2, (left + right) // 2
    square = Image.new("L", (side, side), 255)  # parts beyond the picture stay paper
    square.paste(picture, (side // 2 - cx, side // 2 - cy))
    # Thicken the ink before shrinking so a line a few pixels wide keeps about one pixel.
    shrink = side / config.size
    if shrink >= 3:
        square = Image.fromarray(_thicken(np.asarray(square), int(shrink / 3)))
    small = np.asarray(square.resize((config.size, config.size), Image.Resampling.BOX), np.float32)
    return np.where(small < LIGHT * 255, 0, 255).astype(np.uint8)[..., None]


def _photo(image: Image.Image, config: DrawConfig) -> np.ndarray:
    """A photo as the set's images are prepared: centre-cropped and resized, uint8 (1, s, s, c)."""
    picture = _flatten(image, "L" if config.channels == 1 else "RGB")
    fitted = ImageOps.fit(picture, (config.size, config.size), method=Image.Resampling.LANCZOS)
    return np.asarray(fitted).reshape(1, config.size, config.size, config.channels)


def read_drawing(image: Image.Image, config: DrawConfig) -> np.ndarray:
    """The drawing `config`'s model reads from a decoded picture: a sketch (size, size, 1) or a
    label map (size, size) of palette classes, uint8."""
    if config.mode == "labels":
        picture = _photo(image, DrawConfig(config.size, 3, config.mode))  # painted colours count
        if config.channels == 1:
            picture = (grey(picture)[..., None] * 255).astype(np.uint8)
        return label_maps(picture, palette_for(config.channels))[0]
    if is_pen_drawing(image):
        return _pen_lines(image, config)
    photo = _photo(image, DrawConfig(config.size, 3)) if config.style == "edges" else _photo(image, config)
    if config.style == "strokes" and grey(photo).mean() > 0.5:  # digit sets are bright ink on dark
        photo = 255 - photo
    return conditions(photo, "sketch", config.style)[0]
