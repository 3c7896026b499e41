"""Drawing with a stored version: rebuild its EMA generator from `config.json` and its weights,
read a person's picture and answer with the drawing and the result side by side."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from models.draw.config import DrawConfig
from models.draw.inputs import read_drawing
from models.draw.render import side_by_side
from models.gan.grids import to_uint8
from models.gan.sample import inference

_PREDICT = threading.Lock()  # one forward pass at a time: callers come from a thread pool


@lru_cache(maxsize=4)
def load_generator(folder: Path):  # type: ignore[no-untyped-def]
    """(config, EMA generator) of the version stored in `folder` (cached: versions never change)."""
    from models.draw.network import build_generator

    config = DrawConfig.load(folder / "config.json")
    generator = build_generator(config)
    generator.load_weights(folder / "generator.weights.h5")
    return config, generator


def translate(folder: Path, drawings: np.ndarray) -> np.ndarray:
    """uint8 outputs (n, size, size, channels) for uint8 drawings of the version in `folder`."""
    from models.draw.train import condition_tensor

    config, generator = load_generator(folder)
    with _PREDICT:
        return to_uint8(inference(generator)(condition_tensor(drawings, config)).numpy())


def draw(folder: Path, picture: Image.Image) -> Image.Image:
    """The drawing as the model read it from `picture`, and the model's result, side by side."""
    config, _ = load_generator(folder)
    drawing = read_drawing(picture, config)
    return side_by_side(drawing, translate(folder, drawing[None])[0], config)
