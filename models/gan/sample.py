"""Generation from a stored version: rebuild the EMA generator from `config.json` and its weights."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from models.errors import ModelError
from models.gan.config import GanConfig
from models.gan.grids import make_grid, to_uint8


_PREDICT = threading.Lock()  # one forward pass at a time: callers come from a thread pool


@lru_cache(maxsize=4)
def load_generator(folder: Path):
    """(config, EMA generator) of the version stored in `folder` (cached: versions never change)."""
    from models.gan.network import build_generator

    config = GanConfig.load(folder / "config.json")
    generator = build_generator(config)
    generator.load_weights(folder / "generator.weights.h5")
    return config, generator


@lru_cache(maxsize=8)
def inference(generator):  # type: ignore[no-untyped-def]
    """`generator`'s inference pass as one TensorFlow graph (made once per generator, traced
    once per input shape): half the time of an eager call (16 digits: 5.4 against 10.9 ms)."""
    import tensorflow as tf

    return tf.function(lambda inputs: generator(inputs, training=False), reduce_retracing=True)


def sample_images(folder: Path, count: int, seed: int | None = None) -> np.ndarray:
    """`count` new uint8 images (count, size, size, channels) from the version in `folder`."""
    config, generator = load_generator(folder)
    latents = np.random.default_rng(seed).standard_normal((count, config.latent_dim)).astype(np.float32)
    with _PREDICT:
        return to_uint8(inference(generator)(latents).numpy())


def sample_grid(folder: Path, count: int, seed: int | None = None) -> Image.Image:
    """A grid of `count` new images, enlarged for small image sizes."""
    images = sample_images(folder, count, seed)
    return make_grid(images, scale=max(1, 64 // images.shape[1]))


def progress_gif(folder: Path) -> bytes:
    """The animated GIF of the fixed-seed grids saved while the version in `folder` trained."""
    gif = folder / "progress.gif"
    if not gif.exists():
        raise ModelError(f"{folder}: this version has no progress animation")
    return gif.read_bytes()
