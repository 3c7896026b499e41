"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for the discriminator's inputs.

The same random transforms are applied to real and generated images whenever the discriminator
sees them, in both the discriminator and generator steps. The discriminator then cannot memorise
a few hundred real images, and because the transforms are differentiable the generator still gets
gradients through them; since fakes are augmented too, the augmentations do not leak into samples.
Images are in [-1, 1], shape (batch, height, width, channels).
"""

from __future__ import annotations

import tensorflow as tf


def _colour(x: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(x)[0]
    x = x + (tf.random.uniform([batch, 1, 1, 1]) - 0.5)  # brightness
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * tf.random.uniform([batch, 1, 1, 1], 0.0, 2.0) + mean  # saturation
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * tf.random.uniform([batch, 1, 1, 1], 0.5, 1.5) + mean  # contrast


def _translation(x: tf.Tensor, ratio: float = 0.125) -> tf.Tensor:
    batch, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    dy, dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = tf.random.uniform([batch, 1], -dy, dy + 1, dtype=tf.int32)
    shift_x = tf.random.uniform([batch, 1], -dx, dx + 1, dtype=tf.int32)
    padded = tf.pad(x, [[0, 0], [dy, dy], [dx, dx], [0, 0]])  # zero (mid-grey) border
    rows = tf.range(height)[None, :] + dy - shift_y  # (b, height) source rows
    cols = tf.range(width)[None, :] + dx - shift_x  # (b, width) source columns
    x = tf.gather(padded, rows, axis=1, batch_dims=1)  # (b, height, width + 2dx, c)
    return tf.gather(x, cols, axis=2, batch_dims=1)  # (b, height, width, c)


def _cutout(x: tf.Tensor, ratio: float = 0.5) -> tf.Tensor:
    batch, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    half_y, half_x = int(height * ratio + 0.5) // 2, int(width * ratio + 0.5) // 2
    centre_y = tf.random.uniform([batch, 1, 1], 0, height, dtype=tf.int32)
    centre_x = tf.random.uniform([batch, 1, 1], 0, width, dtype=tf.int32)
    inside_y = tf.abs(tf.range(height)[None, :, None] - centre_y) < half_y  # (b, h, 1)
    inside_x = tf.abs(tf.range(width)[None, None, :] - centre_x) < half_x  # (b, 1, w)
    keep = tf.cast(~(inside_y & inside_x), x.dtype)[..., None]  # (b, h, w, 1)
    return x * keep


POLICIES = {"color": _colour, "translation": _translation, "cutout": _cutout}


def diff_augment(x: tf.Tensor, policy: tuple[str, ...]) -> tf.Tensor:
    """Apply each named transform of `policy` in order, with fresh randomness per image."""
    for name in policy:
        x = POLICIES[name](x)
    return x
