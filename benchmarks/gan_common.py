"""Shared by the GAN benchmarks: the TensorFlow DCGAN tutorial recipe they compare against,
benchmark data imported through nowbot's own importer, and results as JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SOURCES = {
    "mnist": DATA / "mnist" / "t10k-images-idx3-ubyte.gz",
    "apples": DATA / "apples",
}
RESULTS = Path(__file__).resolve().parent / "results"
TUTORIAL_BATCH, TUTORIAL_NOISE = 256, 100


def save(name: str, result: dict[str, Any]) -> None:
    """Print the result as JSON and keep a copy in benchmarks/results/."""
    result = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": os.getloadavg()[0]},
        **result,
    }
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json").write_text(text)


def import_set(app: Any, name: str) -> np.ndarray:
    """Import a benchmark data set with `nowbot images import`'s code; its uint8 pixels."""
    from corpora.imagesets import import_images, load_pixels

    with app.sessions.begin() as session:
        report = import_images(session, app.artifacts_dir, name, str(SOURCES[name]))
    if report.skipped:
        print(f"{name}: skipped {len(report.skipped)} files: {report.skipped[:3]}")
    with app.sessions() as session:
        return load_pixels(session, name)


def tutorial_generator(size: int, channels: int) -> Any:
    """The tutorial's generator: Dense (s/4)^2 x 256 -> Conv2DTranspose 128 (stride 1), 64, channels
    (kernel 5). At 28x28x1 it is the tutorial's; at 64x64x3 it is widened as the homework did."""
    import keras
    from keras import layers

    start = size // 4
    return keras.Sequential([
        keras.Input((TUTORIAL_NOISE,)),
        layers.Dense(start * start * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((start, start, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(channels, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ], name="tutorial_generator")


def tutorial_discriminator(size: int, channels: int) -> Any:
    """The tutorial's discriminator: Conv 64, 128 (kernel 5, stride 2, dropout 0.3) -> Dense 1."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((size, size, channels)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ], name="tutorial_discriminator")


def tutorial_train_step(generator: Any, discriminator: Any) -> Any:
    """The tutorial's `train_step`: one tape per network, cross-entropy losses, Adam 1e-4 each."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    g_optimizer, d_optimizer = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images: Any) -> Any:
        noise = tf.random.normal([tf.shape(images)[0], TUTORIAL_NOISE])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            generated = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            d_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
        g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        return g_loss, d_loss

    return train_step
