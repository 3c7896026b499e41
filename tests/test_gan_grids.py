"""Image grids (PNG) and the progress animation (GIF)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from models.gan.grids import gif_bytes, make_grid, save_png, to_uint8


def test_grid_png_tiles_images_in_order(tmp_path: Path) -> None:
    images = np.stack([np.full((10, 12, 3), 20 * i, dtype=np.uint8) for i in range(5)])
    path = tmp_path / "grid.png"
    save_png(make_grid(images, columns=3, pad=2), path)
    with Image.open(path) as grid:
        assert grid.size == (2 + 3 * 14, 2 + 2 * 12) and grid.mode == "RGB"
        assert grid.getpixel((2 + 14 + 5, 2 + 5)) == (20, 20, 20)  # second image, first row
        assert grid.getpixel((2 + 5, 2 + 12 + 5)) == (60, 60, 60)  # fourth image, second row


def test_grey_grid_scales_and_maps_tanh_range() -> None:
    images = to_uint8(np.array([-1.0, 0.0, 1.0, 2.0]).reshape(4, 1, 1, 1) * np.ones((4, 4, 4, 1)))
    assert list(images[:, 0, 0, 0]) == [0, 128, 255, 255]
    grid = make_grid(images, scale=3)
    assert grid.mode == "L" and grid.size == ((2 + 2 * 6) * 3, (2 + 2 * 6) * 3)


def test_progress_gif_has_one_frame_per_grid(tmp_path: Path) -> None:
    frames = []
    for step in range(4):
        frame = tmp_path / f"step-{step:07d}.png"
        save_png(make_grid(np.full((4, 8, 8, 1), 60 * step, dtype=np.uint8)), frame)
        frames.append(frame)
    with Image.open(io.BytesIO(gif_bytes(frames))) as gif:
        assert gif.n_frames == 4 and gif.size == (2 + 2 * 10, 2 + 2 * 10)
        gif.seek(3)
        assert gif.convert("L").getpixel((5, 5)) == 180
