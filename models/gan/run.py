"""One GAN training run on an image set: resume an interrupted run or fine-tune the serving
version, train within a budget, measure, store a version and let the gate decide.

Interrupted-run state lives in `ARTIFACTS/checkpoints/gan/<set>/` (checkpoint, config, progress
grids) until the run's version is stored; TensorBoard logs go to `ARTIFACTS/logs/gan/<set>/`.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.gan.config import GanConfig
from models.registry import Registry, TrainingOutcome
from storage.artifacts import atomic_write_bytes

KIND = "gan"


def checkpoint_dir(artifacts_dir: Path, set_name: str) -> Path:
    return artifacts_dir / "checkpoints" / KIND / set_name


def evaluate(gan, pixels: np.ndarray, features_dir: Path, samples: int = 2000,
             **extractor_kwargs: float) -> dict[str, Any]:
    """Frechet distance and diversity of EMA samples against (up to `samples`) real images."""
    from models.gan.grids import to_uint8
    from models.gan.metrics import diversity, features, frechet_distance, load_extractor, spec_for

    spec = spec_for(gan.config.channels)
    extractor = load_extractor(spec, features_dir, **extractor_kwargs)
    rng = np.random.default_rng(1234)
    count = min(samples, len(pixels))
    real = pixels[rng.choice(len(pixels), count, replace=False)]
    latents = rng.standard_normal((count, gan.config.latent_dim)).astype(np.float32)
    fake = to_uint8(gan.ema_generator.predict(latents, batch_size=256, verbose=0))
    real_feats, fake_feats = features(extractor, real, spec), features(extractor, fake, spec)
    spread = diversity(real_feats, fake_feats, gan.config.collapse_ratio)
    return {
        "fid": frechet_distance(real_feats, fake_feats), "diversity": spread.ratio,
        "collapsed": spread.collapsed, "eval_samples": count, "extractor": spec.name,
    }


def _write_version(gan, state_dir: Path, folder: Path) -> None:
    from models.gan.grids import gif_bytes, make_grid, save_png, to_uint8
    from models.gan.train import grid_latents

    (folder / "config.json").write_text(gan.config.to_json())
    gan.ema_generator.save_weights(folder / "generator.weights.h5")
    gan.generator.save_weights(folder / "generator_raw.weights.h5")
    gan.discriminator.save_weights(folder / "discriminator.weights.h5")
    shutil.copytree(state_dir / "frames", folder / "frames")
    (folder / "progress.gif").write_bytes(gif_bytes(sorted((folder / "frames").glob("step-*.png"))))
    scale = 2 if gan.config.size <= 32 else 1
    save_png(make_grid(to_uint8(gan.sample(grid_latents(gan.config))), scale=scale), folder / "grid.png")


def _load_version(gan, folder: Path) -> None:
    gan.generator.load_weights(folder / "generator_raw.weights.h5")
    gan.ema_generator.load_weights(folder / "generator.weights.h5")
    gan.discriminator.load_weights(folder / "discriminator.weights.h5")


def train_gan(
    registry: Registry,
    artifacts_dir: Path,
    set_name: str,
    pixels: np.ndarray,
    *,
    minutes: float | None = None,
    epochs: int | None = None,
    fresh: bool = False,
    overrides: dict[str, Any] | None = None,
    image_set_id: int | None = None,
    progress: bool = True,
    eval_samples: int = 2000,
    extractor_kwargs: dict[str, float] | None = None,
    run_id: int | None = None,
) -> TrainingOutcome:
    """Train on uint8 `pixels` (n, size, size, channels) for `minutes` or `epochs`; `run_id`
    names the requested training run this is (else a new run is recorded).

    An interrupted run of this set is resumed (same config, steps and seconds so far); otherwise
    the serving version is fine-tuned; `fresh` discards both and starts from random weights.
    """
    import keras

    from models.gan.train import (
        DCGAN, Checkpointer, ProgressGrids, RichProgress, TrainingClock, image_dataset,
        load_checkpoint, make_optimizers, save_checkpoint,
    )

    if (minutes is None) == (epochs is None):
        raise ModelError("give exactly one budget: minutes or epochs")
    state_dir = checkpoint_dir(artifacts_dir, set_name)
    if fresh:
        shutil.rmtree(state_dir, ignore_errors=True)
    checkpoint, config_path = state_dir / "checkpoint.npz", state_dir / "config.json"
    serving = None if fresh else registry.serving(KIND, set_name)
    size, channels = pixels.shape[1], pixels.shape[3]
    if checkpoint.exists() and config_path.exists():
        config = GanConfig.load(config_path)
    elif serving is not None:
        config = GanConfig.load(Path(serving.artifact_path) / "config.json")
    else:
        config = GanConfig.for_set(size, channels, **(overrides or {}))
    if (config.size, config.channels) != (size, channels):
        raise ModelError(
            f"set '{set_name}' is {size}x{size}x{channels} but its model is "
            f"{config.size}x{config.size}x{config.channels}: train with --fresh"
        )
    gan = DCGAN(config)
    gan.compile(*make_optimizers(config))
    state, resumed, fine_tuned = {"steps": 0, "seconds": 0.0}, None, None
    if checkpoint.exists():
        state = load_checkpoint(gan, checkpoint)
        resumed = int(state["steps"])
    elif serving is not None:
        _load_version(gan, Path(serving.artifact_path))
        fine_tuned = serving.version
    if resumed is None:  # grids of an abandoned run would confuse the progress GIF
        shutil.rmtree(state_dir / "frames", ignore_errors=True)
    atomic_write_bytes(config_path, config.to_json().encode())

    batch = min(config.batch_size, len(pixels))
    steps_per_epoch = max(1, len(pixels) // batch)
    clock = TrainingClock(minutes * 60 if minutes is not None else None, state["seconds"])
    # TensorBoard logging needs the `tensorboard` package; without it training runs unlogged.
    log_dir = artifacts_dir / "logs" / KIND / set_name if find_spec("tensorboard") else None
    callbacks = [clock, ProgressGrids(state_dir / "frames", log_dir), Checkpointer(checkpoint, clock)]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0))
    if progress:
        callbacks.append(RichProgress(epochs * steps_per_epoch if epochs else None, clock))
    with registry.training_run(KIND, set_name, run_id) as run:
        try:
            start_epoch = int(state["steps"]) // steps_per_epoch
            if epochs is None or start_epoch < epochs:
                gan.fit(
                    image_dataset(pixels, batch, config.seed), epochs=epochs or 10**9,
                    initial_epoch=start_epoch, steps_per_epoch=steps_per_epoch,
                    callbacks=callbacks, verbose=0, shuffle=False,  # the dataset shuffles
                )
        except KeyboardInterrupt:
            save_checkpoint(gan, checkpoint, {"steps": gan.steps, "seconds": clock.seconds()})
            raise
        run.metrics = evaluate(gan, pixels, artifacts_dir / "features", eval_samples,
                               **(extractor_kwargs or {}))
        run.metrics.update(steps=gan.steps, seconds=round(clock.seconds(), 1), images=len(pixels))
        version = registry.save_version(
            KIND, set_name, lambda folder: _write_version(gan, state_dir, folder), run.metrics,
            config=asdict(config), training_run_id=run.id, image_set_id=image_set_id,
        )
        veto = "mode collapse" if run.metrics["collapsed"] else None
        verdict = registry.promote_if_better(version.id, "fid", veto=veto)
    shutil.rmtree(state_dir, ignore_errors=True)  # the version now holds everything
    return TrainingOutcome(version.version, verdict, run.metrics, resumed, fine_tuned)
