"""Pictures of drawings and results (NumPy and Pillow only): drawings shown as a person drew them,
sample sheets of drawing | output | photo, and the side-by-side answer a chat gets."""

from __future__ import annotations

import numpy as np
from PIL import Image

from models.draw.config import DrawConfig
from models.draw.pairs import paint, palette_for
from models.gan.grids import make_grid, to_uint8

SHOWN_SIDE = 256  # pixels per panel of a chat answer


def drawing_pictures(drawings: np.ndarray, config: DrawConfig) -> np.ndarray:
    """uint8 drawings (sketches or label maps) -> uint8 images (n, h, w, channels) of the
    photo's channels: sketches as ink on white, label maps in their palette colours."""
    if config.mode == "labels":
        return paint(drawings, palette_for(config.channels))
    return np.repeat(drawings, config.channels, axis=-1)


def pair_sheet(drawings: np.ndarray, outputs: np.ndarray, photos: np.ndarray | None,
               config: DrawConfig) -> Image.Image:
    """One row per drawing: drawing | output (in [-1, 1]) | photo (uint8), when given."""
    columns = [drawing_pictures(drawings, config), to_uint8(outputs)]
    if photos is not None:
        columns.append(photos)
    tiles = np.stack(columns, axis=1).reshape(-1, *columns[0].shape[1:])  # row by row
    return make_grid(tiles, columns=len(columns), scale=max(1, 64 // config.size))


def side_by_side(drawing: np.ndarray, output: np.ndarray, config: DrawConfig) -> Image.Image:
    """A chat answer: the drawing as the model read it, then its result, each `SHOWN_SIDE` wide."""
    sheet = make_grid(np.stack([drawing_pictures(drawing[None], config)[0], output]), columns=2, pad=1)
    scale = max(1, SHOWN_SIDE // config.size)
    return sheet.resize((sheet.width * scale, sheet.height * scale), Image.Resampling.NEAREST)
