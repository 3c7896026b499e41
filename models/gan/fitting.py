"""What every adversarial training run of nowbot does, whatever its networks: start from an
interrupted run's checkpoint or the serving version's weights, fit within a budget of minutes or
epochs with checkpoints, progress grids and a progress bar, and write the networks into a version.

Used by the DCGAN (`models.gan.run`) and the draw model (`models.draw.run`); `model` is an
`AdversarialModel` and `state_dir` the run's checkpoint folder.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from models.errors import ModelError
from models.registry import LocalVersion
from storage.artifacts import atomic_write_bytes

CHECKPOINT, CONFIG, FRAMES = "checkpoint.npz", "config.json", "frames"
C = TypeVar("C")


def start_config(state_dir: Path, serving: LocalVersion | None, load: Callable[[Path], C],
                 new: Callable[[], C], pixels: Any, set_name: str) -> C:
    """The config of the interrupted run in `state_dir`, else the serving version's, else
    `new()`; a `ModelError` when it is not the size and channels of the set's `pixels`."""
    if (state_dir / CHECKPOINT).exists() and (state_dir / CONFIG).exists():
        config = load(state_dir / CONFIG)
    elif serving is not None:
        config = load(serving.folder / CONFIG)
    else:
        config = new()
    size, channels = pixels.shape[1], pixels.shape[3]
    if (config.size, config.channels) != (size, channels):  # type: ignore[attr-defined]
        raise ModelError(
            f"set '{set_name}' is {size}x{size}x{channels} but its model is "
            f"{config.size}x{config.size}x{config.channels}: train with --fresh"  # type: ignore[attr-defined]
        )
    return config


def restore(model: Any, state_dir: Path, serving: LocalVersion | None
            ) -> tuple[dict[str, float], int | None, int | None]:
    """(state, resumed from step, fine-tuned version): the interrupted run's checkpoint in
    `state_dir` when there is one, else the `serving` version's weights, else a fresh start.
    The model's config is kept in `state_dir` for a later resume."""
    from models.gan.train import load_checkpoint

    atomic_write_bytes(state_dir / CONFIG, model.config.to_json().encode())
    checkpoint = state_dir / CHECKPOINT
    if checkpoint.exists():
        state = load_checkpoint(model, checkpoint)
        return state, int(state["steps"]), None
    shutil.rmtree(state_dir / FRAMES, ignore_errors=True)  # an abandoned run's grids would confuse the GIF
    if serving is not None:
        folder = serving.folder
        model.generator.load_weights(folder / "generator_raw.weights.h5")
        model.ema_generator.load_weights(folder / "generator.weights.h5")
        model.discriminator.load_weights(folder / "discriminator.weights.h5")
        return {"steps": 0, "seconds": 0.0}, None, serving.version
    return {"steps": 0, "seconds": 0.0}, None, None


def fit_within_budget(
    model: Any, dataset: Any, steps_per_epoch: int, state: dict[str, float], *,
    minutes: float | None, epochs: int | None, state_dir: Path, log_dir: Path, progress: bool,
    label: str, curve: Callable[[int, float, dict[str, float], bool], None] | None = None,
) -> float:
    """Fit until `minutes` of training (counting earlier attempts') or `epochs` are spent;
    returns the seconds trained. Ctrl-C saves a checkpoint before it propagates; TensorBoard
    logs go to `log_dir` when the `tensorboard` package is installed; `curve` hears the losses
    (`Registry.curve_recorder`: the dashboard's learning curve)."""
    import keras

    from models.gan.train import (
        Checkpointer, CurvePoints, ProgressGrids, RichProgress, TrainingClock, save_checkpoint,
    )

    clock = TrainingClock(minutes * 60 if minutes is not None else None, state["seconds"])
    logs = log_dir if find_spec("tensorboard") else None
    checkpoint = state_dir / CHECKPOINT
    callbacks = [clock, ProgressGrids(state_dir / FRAMES, logs), Checkpointer(checkpoint, clock)]
    if logs is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(logs), write_graph=False, profile_batch=0))
    total_steps = epochs * steps_per_epoch if epochs else None
    if curve is not None:
        callbacks.append(CurvePoints(curve, total_steps, clock))
    if progress:
        callbacks.append(RichProgress(total_steps, clock, label))
    try:
        start_epoch = int(state["steps"]) // steps_per_epoch
        if epochs is None or start_epoch < epochs:
            model.fit(
                dataset, epochs=epochs or 10**9, initial_epoch=start_epoch,
                steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=0,
                shuffle=False,  # the dataset shuffles
            )
    except KeyboardInterrupt:
        save_checkpoint(model, checkpoint, {"steps": model.steps, "seconds": clock.seconds()})
        raise
    return clock.seconds()


def write_networks(model: Any, state_dir: Path, folder: Path) -> None:
    """A version's files: config, EMA and raw generator, discriminator (for fine-tuning), the
    progress frames with their GIF, and the final progress grid."""
    from models.gan.grids import gif_bytes, save_png

    (folder / CONFIG).write_text(model.config.to_json())
    model.ema_generator.save_weights(folder / "generator.weights.h5")
    model.generator.save_weights(folder / "generator_raw.weights.h5")
    model.discriminator.save_weights(folder / "discriminator.weights.h5")
    shutil.copytree(state_dir / FRAMES, folder / FRAMES)
    (folder / "progress.gif").write_bytes(gif_bytes(sorted((folder / FRAMES).glob("step-*.png"))))
    save_png(model.progress_grid(), folder / "grid.png")
