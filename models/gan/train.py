"""The GAN as a `keras.Model` (two optimizers, hinge loss, DiffAugment, EMA generator) and the
callbacks of a training run: time budget, progress bar, progress grids and resumable checkpoints."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from models.gan.augment import diff_augment
from models.gan.config import GanConfig
from models.gan.grids import make_grid, save_png, to_uint8
from models.gan.network import build_discriminator, build_generator
from storage.artifacts import atomic_write_bytes

GRID_SECONDS = 20.0  # the longest wait between progress grids, so that short runs animate too


class AdversarialModel(keras.Model):
    """A generator trained against a discriminator with two optimizers; `ema_generator` tracks an
    exponential moving average of the generator's weights and is what samples, grids and the
    metric use. Subclasses build the networks and write `train_step`; `config` needs `ema_decay`,
    `grid_every` and `checkpoint_every`."""

    def __init__(self, config: Any, generator: keras.Model, discriminator: keras.Model,
                 ema_generator: keras.Model, name: str) -> None:
        super().__init__(name=name)
        self.config = config
        self.generator, self.discriminator, self.ema_generator = generator, discriminator, ema_generator
        self.ema_generator.set_weights(self.generator.get_weights())
        self.trackers = [keras.metrics.Mean(name=n) for n in ("d_loss", "g_loss", "d_real", "d_fake")]

    def compile(self, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer) -> None:
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return self.trackers

    def _track(self, *values: tf.Tensor) -> dict[str, tf.Tensor]:
        """Update the trackers in order (d_loss, g_loss, mean real score, mean fake score, then
        a subclass's own) and return every result."""
        for tracker, value in zip(self.trackers, values):
            tracker.update_state(value)
        return {metric.name: metric.result() for metric in self.metrics}

    def _update_ema(self) -> None:
        # Warm-up: a short average early on, so young runs are not dominated by the random start.
        step = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.config.ema_decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))

    @property
    def steps(self) -> int:
        return int(self.g_optimizer.iterations.numpy())

    def progress_grid(self) -> Image.Image:
        """The picture of the model's progress that grids, GIFs and TensorBoard show."""
        raise NotImplementedError


class DCGAN(AdversarialModel):
    """Trains a latent-to-image generator against an image discriminator (hinge loss, DiffAugment)."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__(config, build_generator(config), build_discriminator(config),
                         build_generator(config, name="ema_generator"), name="dcgan")

    def _critic(self, images: tf.Tensor) -> tf.Tensor:
        return self.discriminator(diff_augment(images, self.config.augment), training=True)

    def train_step(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = tf.shape(real)[0]
        # Discriminator: as many fakes as reals (balanced), both augmented the same way.
        fake = self.generator(tf.random.normal([batch, self.config.latent_dim]), training=True)
        with tf.GradientTape() as tape:
            scores = self._critic(tf.concat([real, fake], axis=0))  # one pass over both halves
            real_score, fake_score = scores[:batch], scores[batch:]
            d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_score)) + tf.reduce_mean(
                tf.nn.relu(1.0 + fake_score)
            )  # hinge loss
        weights = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
        # Generator: fresh latents, scored through the same augmentation.
        with tf.GradientTape() as tape:
            fake = self.generator(tf.random.normal([batch, self.config.latent_dim]), training=True)
            g_loss = -tf.reduce_mean(self._critic(fake))
        weights = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        self._update_ema()
        return self._track(d_loss, g_loss, tf.reduce_mean(real_score), tf.reduce_mean(fake_score))

    def sample(self, latents: np.ndarray) -> np.ndarray:
        """EMA-generator images in [-1, 1] for the given latent vectors."""
        return np.asarray(self.ema_generator(latents, training=False))

    def progress_grid(self) -> Image.Image:
        """EMA samples of the fixed latents, enlarged for small sizes."""
        return make_grid(to_uint8(self.sample(grid_latents(self.config))), scale=2 if self.config.size <= 32 else 1)


def make_optimizers(config: GanConfig) -> tuple[keras.optimizers.Adam, keras.optimizers.Adam]:
    """(discriminator, generator) optimizers."""
    return (
        keras.optimizers.Adam(config.d_lr, beta_1=config.beta_1, beta_2=config.beta_2),
        keras.optimizers.Adam(config.g_lr, beta_1=config.beta_1, beta_2=config.beta_2),
    )


def image_dataset(pixels: np.ndarray, batch: int, seed: int = 0) -> tf.data.Dataset:
    """uint8 (n, h, w, c) -> endless shuffled float batches in [-1, 1]."""
    return (
        tf.data.Dataset.from_tensor_slices(pixels)
        .shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
        .map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )


def grid_latents(config: GanConfig) -> np.ndarray:
    """The fixed latent vectors every progress grid is drawn from."""
    rng = np.random.default_rng(config.seed)
    return rng.standard_normal((config.grid_seeds, config.latent_dim)).astype(np.float32)


# -- checkpoints ------------------------------------------------------------------------------

def _groups(gan: AdversarialModel) -> dict[str, list[keras.Variable]]:
    return {
        "g": gan.generator.weights, "d": gan.discriminator.weights, "e": gan.ema_generator.weights,
        "og": gan.g_optimizer.variables, "od": gan.d_optimizer.variables,
    }


def save_checkpoint(gan: AdversarialModel, path: Path, state: dict[str, float]) -> None:
    """Every weight and optimizer slot plus `state` (steps, seconds trained) in one atomic file."""
    arrays = {
        f"{group}/{index}": np.asarray(variable)
        for group, variables in _groups(gan).items() for index, variable in enumerate(variables)
    }
    buffer = io.BytesIO()
    np.savez(buffer, state=np.array(json.dumps(state)), **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(gan: AdversarialModel, path: Path) -> dict[str, float]:
    """Restore what `save_checkpoint` wrote; returns its state."""
    with np.load(path) as data:
        for group, variables in _groups(gan).items():
            for index, variable in enumerate(variables):
                variable.assign(data[f"{group}/{index}"])
        return json.loads(str(data["state"]))


class Checkpointer(keras.callbacks.Callback):
    """Saves a resumable checkpoint every `config.checkpoint_every` steps and at the end."""

    def __init__(self, path: Path, clock: TrainingClock) -> None:
        super().__init__()
        self.path, self.clock = path, clock

    def save(self) -> None:
        gan: AdversarialModel = self.model
        save_checkpoint(gan, self.path, {"steps": gan.steps, "seconds": self.clock.seconds()})

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.model.steps % self.model.config.checkpoint_every == 0:
            self.save()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.save()


class TrainingClock(keras.callbacks.Callback):
    """Counts training seconds (including those of earlier, interrupted attempts) and stops
    `fit` once `budget_s` is spent."""

    def __init__(self, budget_s: float | None, already_s: float = 0.0) -> None:
        super().__init__()
        self.budget_s, self.already_s = budget_s, already_s
        self.started: float | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.already_s, self.started = self.seconds(), None

    def seconds(self) -> float:
        running = time.monotonic() - self.started if self.started is not None else 0.0
        return self.already_s + running

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.budget_s is not None and self.seconds() >= self.budget_s:
            self.model.stop_training = True


class ProgressGrids(keras.callbacks.Callback):
    """At the start, every `config.grid_every` steps (or `GRID_SECONDS`, whichever comes first)
    and at the end: the model's progress grid, as a PNG in `folder` (named by step: the
    frames of the progress GIF) and as an image in TensorBoard."""

    def __init__(self, folder: Path, log_dir: Path | None) -> None:
        super().__init__()
        self.folder = folder
        self.writer = tf.summary.create_file_writer(str(log_dir / "grids")) if log_dir else None
        self.rendered_at = time.monotonic()

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not (self.folder / f"step-{self.model.steps:07d}.png").exists():  # a resume has it
            self.render()

    def render(self) -> None:
        gan: AdversarialModel = self.model
        self.rendered_at = time.monotonic()
        grid = gan.progress_grid()
        save_png(grid, self.folder / f"step-{gan.steps:07d}.png")
        if self.writer is not None:
            with self.writer.as_default():
                pixels = np.asarray(grid.convert("RGB"))[None]
                tf.summary.image("samples", pixels, step=gan.steps)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        config = self.model.config
        if (self.model.steps % config.grid_every == 0
                or time.monotonic() - self.rendered_at >= GRID_SECONDS):
            self.render()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.render()


class CurvePoints(keras.callbacks.Callback):
    """The losses as learning-curve points for `record` (`Registry.record_curve`, which
    throttles them), forced at each progress grid and at the end; the fraction is of
    `total_steps` (an epoch budget) or of the clock's budget."""

    def __init__(self, record: Callable[[int, float, dict[str, float], bool], None],
                 total_steps: int | None, clock: TrainingClock) -> None:
        super().__init__()
        self.record, self.total_steps, self.clock = record, total_steps, clock

    def _point(self, logs: dict | None, force: bool) -> None:
        steps, budget = self.model.steps, self.clock.budget_s
        done = steps / self.total_steps if self.total_steps else self.clock.seconds() / (budget or 1.0)
        values = {name: float(value) for name, value in (logs or {}).items() if name.endswith("loss")}
        self.record(steps, min(done, 1.0), values, force)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._point(logs, self.model.steps % self.model.config.grid_every == 0)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._point(logs, True)


class RichProgress(keras.callbacks.Callback):
    """A progress bar over steps (epoch budget) or seconds (time budget), with the losses."""

    def __init__(self, total_steps: int | None, clock: TrainingClock, label: str = "train gan") -> None:
        super().__init__()
        self.total_steps, self.clock = total_steps, clock
        self.bar = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=False,
        )
        self.task = self.bar.add_task("gan", total=total_steps or clock.budget_s or 1, info="")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.bar.start()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        info = f"step {self.model.steps} d_loss {float(logs.get('d_loss', 0)):.3f} g_loss {float(logs.get('g_loss', 0)):.3f}"
        done = self.model.steps if self.total_steps else self.clock.seconds()
        self.bar.update(self.task, completed=done, info=info)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.bar.stop()
