"""Generator and discriminator builders (no I/O). Shapes follow the config's size and channels."""

from __future__ import annotations

import keras
from keras import layers

from models.gan.config import GanConfig


def build_generator(config: GanConfig, name: str = "generator") -> keras.Model:
    """Latent (batch, latent_dim) -> image (batch, size, size, channels) in [-1, 1]."""
    steps, start = config.upsamplings, config.start_size
    z = keras.Input((config.latent_dim,), name="z")
    x = layers.Dense(start * start * config.g_filters * 2**steps, use_bias=False)(z)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((start, start, config.g_filters * 2**steps))(x)  # (b, start, start, f*2^k)
    for step in range(steps):
        # Kernel 4 with stride 2 divides evenly, which avoids the tutorial's checkerboard (kernel 5).
        x = layers.Conv2DTranspose(
            config.g_filters * 2 ** (steps - 1 - step), 4, strides=2, padding="same", use_bias=False
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    image = layers.Conv2D(config.channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, image, name=name)  # (b, size, size, channels)


def build_discriminator(config: GanConfig, name: str = "discriminator") -> keras.Model:
    """Image (batch, size, size, channels) -> one unbounded score per image (hinge loss)."""
    image = keras.Input((config.size, config.size, config.channels), name="image")
    x = image
    for step in range(config.upsamplings):
        # No batch norm: real and fake images go through in one batch (one pass over both
        # halves), and BN would mix the statistics of each half into the other's scores.
        x = layers.Conv2D(config.d_filters * 2**step, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    score = layers.Dense(1)(layers.Flatten()(x))  # (b, 1)
    return keras.Model(image, score, name=name)
