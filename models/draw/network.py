"""The draw model's networks (no I/O): a U-Net generator from drawing to photo, with SPADE
normalisation in its decoder for label maps, and a PatchGAN discriminator on (drawing, photo)."""

from __future__ import annotations

import keras
from keras import layers

from models.draw.config import DrawConfig
from models.draw.pairs import palette_for


def input_channels(config: DrawConfig) -> int:
    """Channels of the generator's input: a grey sketch, or one per palette class."""
    return 1 if config.mode == "sketch" else len(palette_for(config.channels))


def _spade(x, condition, name: str):  # type: ignore[no-untyped-def]
    """SPADE (Park et al. 2019): normalise `x` without learned scale and shift, then scale and
    shift it per pixel by convolutions of the label map at `x`'s resolution, so that the map is
    not washed out by normalisation layers as it would be if it were only the network's input."""
    side, filters = x.shape[1], x.shape[-1]
    labels = layers.Resizing(side, side, interpolation="nearest", name=f"{name}_labels")(condition)
    shared = layers.Conv2D(32, 3, padding="same", activation="relu", name=f"{name}_shared")(labels)
    gamma = layers.Conv2D(filters, 3, padding="same", name=f"{name}_gamma")(shared)
    beta = layers.Conv2D(filters, 3, padding="same", name=f"{name}_beta")(shared)
    x = layers.BatchNormalization(center=False, scale=False, name=f"{name}_norm")(x)
    return x * (1.0 + gamma) + beta


def build_generator(config: DrawConfig, name: str = "generator") -> keras.Model:
    """Drawing (batch, size, size, input_channels) in [-1, 1] -> photo (batch, size, size,
    channels) in [-1, 1]. Encoder and decoder meet through skip connections at every scale, so
    the lines of the drawing reach the output at full resolution (pix2pix, Isola et al. 2017)."""
    size, f = config.size, config.g_filters
    condition = keras.Input((size, size, input_channels(config)), name="drawing")
    x, skips = condition, []
    for step in range(config.downsamplings):
        x = layers.Conv2D(f * min(2**step, 8), 4, strides=2, padding="same", use_bias=step == 0)(x)
        if step:  # pix2pix: no normalisation on the first layer
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
        skips.append(x)  # (b, size / 2^(step+1), ..., f * 2^step)
    for step in reversed(range(config.downsamplings)):
        if step < config.downsamplings - 1:
            x = layers.Concatenate()([x, skips[step]])
        # Kernel 4 with stride 2 divides evenly (no checkerboard); (b, size / 2^step, ...)
        x = layers.Conv2DTranspose(f * min(2 ** max(step - 1, 0), 8), 4, strides=2, padding="same",
                                   use_bias=False)(x)
        x = _spade(x, condition, f"spade{step}") if config.spade else layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Concatenate()([x, condition])  # the drawing itself, at full resolution
    photo = layers.Conv2D(config.channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(condition, photo, name=name)


def build_discriminator(config: DrawConfig, name: str = "discriminator") -> keras.Model:
    """(drawing, photo) concatenated -> a map of unbounded patch scores (hinge loss): each score
    judges one patch of the photo together with the drawing under it (PatchGAN)."""
    size = config.size
    pair = keras.Input((size, size, input_channels(config) + config.channels), name="pair")
    x = pair
    for step in range(min(3, config.downsamplings)):
        # No batch norm: real and fake pairs go through in one batch (see models.gan.network).
        x = layers.Conv2D(config.d_filters * 2**step, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(config.d_filters * 4, 3, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    scores = layers.Conv2D(1, 3, padding="same")(x)  # (b, size / 8, size / 8, 1) at 64x64
    return keras.Model(pair, scores, name=name)
