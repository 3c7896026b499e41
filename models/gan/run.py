"""One GAN training run on an image set: resume an interrupted run or fine-tune the serving
version, train within a budget, measure, store a version and let the gate decide.

Interrupted-run state lives in `ARTIFACTS/checkpoints/gan/<set>/` (checkpoint, config, progress
grids) until the run's version is stored; TensorBoard logs go to `ARTIFACTS/logs/gan/<set>/`.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.gan.config import GanConfig
from models.registry import Registry, TrainingOutcome

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
    from models.gan.fitting import fit_within_budget, restore, start_config, write_networks
    from models.gan.train import DCGAN, image_dataset, make_optimizers

    if (minutes is None) == (epochs is None):
        raise ModelError("give exactly one budget: minutes or epochs")
    state_dir = checkpoint_dir(artifacts_dir, set_name)
    if fresh:
        shutil.rmtree(state_dir, ignore_errors=True)
    serving = None if fresh else registry.serving_local(KIND, set_name)
    size, channels = pixels.shape[1], pixels.shape[3]
    config = start_config(state_dir, serving, GanConfig.load,
                          lambda: GanConfig.for_set(size, channels, **(overrides or {})), pixels, set_name)
    gan = DCGAN(config)
    gan.compile(*make_optimizers(config))
    state, resumed, fine_tuned = restore(gan, state_dir, serving)

    batch = min(config.batch_size, len(pixels))
    steps_per_epoch = max(1, len(pixels) // batch)
    with registry.training_run(KIND, set_name, run_id) as run:
        seconds = fit_within_budget(
            gan, image_dataset(pixels, batch, config.seed), steps_per_epoch, state, minutes=minutes,
            epochs=epochs, state_dir=state_dir, log_dir=artifacts_dir / "logs" / KIND / set_name,
            progress=progress, label="train gan", curve=registry.curve_recorder(run.id),
        )
        run.metrics = evaluate(gan, pixels, artifacts_dir / "features", eval_samples,
                               **(extractor_kwargs or {}))
        run.metrics.update(steps=gan.steps, seconds=round(seconds, 1), images=len(pixels))
        version = registry.save_version(
            KIND, set_name, lambda folder: write_networks(gan, state_dir, folder), run.metrics,
            config=asdict(config), training_run_id=run.id, image_set_id=image_set_id,
        )
        veto = "mode collapse" if run.metrics["collapsed"] else None
        verdict = registry.promote_if_better(version.id, "fid", veto=veto)
    shutil.rmtree(state_dir, ignore_errors=True)  # the version now holds everything
    return TrainingOutcome(version.version, verdict, run.metrics, resumed, fine_tuned)
