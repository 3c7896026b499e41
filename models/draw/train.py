"""The draw model as a `keras.Model`: a conditional GAN (pix2pix's recipe with the hinge loss,
DiffAugment and an EMA generator), and its paired training data with identical augmentation of
drawing and photo."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from models.draw.config import DrawConfig
from models.draw.network import build_discriminator, build_generator, input_channels
from models.draw.pairs import conditions
from models.draw.render import pair_sheet
from models.gan.augment import diff_augment
from models.gan.train import AdversarialModel


def condition_tensor(drawings: np.ndarray | tf.Tensor, config: DrawConfig) -> tf.Tensor:
    """uint8 sketches (n, h, w, 1) or label maps (n, h, w) -> float32 generator input in [-1, 1]
    (one channel per palette class for label maps)."""
    if config.mode == "sketch":
        return tf.cast(drawings, tf.float32) / 127.5 - 1.0
    return tf.one_hot(tf.cast(drawings, tf.int32), input_channels(config)) * 2.0 - 1.0


class Pix2Pix(AdversarialModel):
    """Trains a drawing-to-photo generator against a PatchGAN on (drawing, photo) pairs; the
    generator's loss is the hinge loss plus `l1_weight` times the L1 distance to the photo."""

    def __init__(self, config: DrawConfig, grid: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        super().__init__(config, build_generator(config), build_discriminator(config),
                         build_generator(config, name="ema_generator"), name="pix2pix")
        self.trackers.append(keras.metrics.Mean(name="l1"))
        self.grid = grid  # (drawings, photos) rendered into the progress grids

    def _critic(self, drawing: tf.Tensor, photo: tf.Tensor) -> tf.Tensor:
        # Colour jitter on the photo only (the drawing's values are classes, not colours), then
        # the same shifts and cutouts on both, so that each score still sees a matching pair.
        policy = self.config.augment
        if "color" in policy:
            photo = diff_augment(photo, ("color",))
        pair = tf.concat([drawing, photo], axis=-1)
        return self.discriminator(diff_augment(pair, tuple(p for p in policy if p != "color")), training=True)

    def train_step(self, data: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        drawing, real = data
        batch = tf.shape(real)[0]
        fake = self.generator(drawing, training=True)
        with tf.GradientTape() as tape:
            both = self._critic(tf.concat([drawing, drawing], 0), tf.concat([real, fake], 0))
            real_score, fake_score = both[:batch], both[batch:]
            d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_score)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_score))
        weights = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
        with tf.GradientTape() as tape:
            fake = self.generator(drawing, training=True)
            l1 = tf.reduce_mean(tf.abs(real - fake))
            g_loss = -tf.reduce_mean(self._critic(drawing, fake)) + self.config.l1_weight * l1
        weights = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        self._update_ema()
        return self._track(d_loss, g_loss, tf.reduce_mean(real_score), tf.reduce_mean(fake_score), l1)

    def translate(self, drawings: np.ndarray) -> np.ndarray:
        """EMA-generator photos in [-1, 1] for uint8 drawings (sketches or label maps)."""
        x = condition_tensor(drawings, self.config)
        return np.asarray(self.ema_generator.predict(x, batch_size=64, verbose=0))

    def progress_grid(self) -> Image.Image:
        """Rows of drawing | output | photo for the fixed grid pairs."""
        drawings, photos = self.grid
        return pair_sheet(drawings, self.translate(drawings), photos, self.config)


def make_optimizers(config: DrawConfig) -> tuple[keras.optimizers.Adam, keras.optimizers.Adam]:
    """(discriminator, generator) optimizers."""
    return (
        keras.optimizers.Adam(config.d_lr, beta_1=config.beta_1, beta_2=config.beta_2),
        keras.optimizers.Adam(config.g_lr, beta_1=config.beta_1, beta_2=config.beta_2),
    )


def pair_dataset(pixels: np.ndarray, config: DrawConfig) -> tf.data.Dataset:
    """Endless shuffled batches of (drawing, photo) in [-1, 1]. Each photo gets
    `config.variants` jittered sketches (label maps are fixed); each pair is shifted (and
    mirrored) identically in drawing and photo."""
    rng = np.random.default_rng(config.seed)
    count = len(pixels)
    if config.mode == "sketch":
        drawings = np.concatenate([conditions(pixels, "sketch", config.style, rng)
                                   for _ in range(config.variants)])
        photos = np.tile(np.arange(count), config.variants)
    else:
        drawings, photos = conditions(pixels, "labels", config.style), np.arange(count)
    drawings, pixels = tf.constant(drawings), tf.constant(pixels)  # uint8: converted per batch
    size = config.size
    shift = max(2, size // 16)
    # Reflected borders: a shifted apple on white stays on white, a digit on black on black.
    fill = ((shift, shift), (shift, shift), (0, 0))

    def augment(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        drawing = condition_tensor(tf.gather(drawings, index), config)
        photo = tf.cast(tf.gather(pixels, tf.gather(photos, index)), tf.float32) / 127.5 - 1.0
        pair = tf.concat([drawing, photo], -1)
        pair = tf.image.random_crop(tf.pad(pair, fill, mode="REFLECT"), (size, size, pair.shape[-1]))
        if config.flip:
            pair = tf.image.random_flip_left_right(pair)
        return pair[..., :drawing.shape[-1]], pair[..., drawing.shape[-1]:]

    batch = min(config.batch_size, len(photos))
    return (
        tf.data.Dataset.range(len(photos))
        .shuffle(len(photos), seed=config.seed, reshuffle_each_iteration=True)
        .repeat()
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch, drop_remainder=True)
        .prefetch(2)
    )
