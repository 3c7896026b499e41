"""Image grids as PNG files and an animated GIF of how a grid evolved during training."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from storage.artifacts import atomic_write_bytes


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 pixels in [0, 255]."""
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2, scale: int = 1) -> Image.Image:
    """Tile uint8 images (n, h, w, c) into one picture, `columns` wide (default: square-ish),
    separated by `pad` dark pixels, each image enlarged `scale` times (nearest neighbour)."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.full(
        (pad + rows * (height + pad), pad + columns * (width + pad), channels), 32, dtype=np.uint8
    )
    for index, image in enumerate(images):
        top, left = pad + (index // columns) * (height + pad), pad + (index % columns) * (width + pad)
        canvas[top:top + height, left:left + width] = image
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    return picture


def save_png(picture: Image.Image, path: Path) -> None:
    """Write a PNG atomically."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def gif_bytes(frames: Sequence[Path], frame_ms: int = 300, hold_last_ms: int = 2000) -> bytes:
    """An animated GIF of the PNG `frames`, in order, looping, the last frame held longer."""
    pictures = []
    for frame in frames:
        with Image.open(frame) as picture:
            pictures.append(picture.convert("RGB"))
    if not pictures:
        raise ValueError("no frames to animate")
    buffer = io.BytesIO()
    durations = [frame_ms] * (len(pictures) - 1) + [hold_last_ms]
    pictures[0].save(
        buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0,
    )
    return buffer.getvalue()
