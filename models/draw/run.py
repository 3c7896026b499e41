"""One draw-model training run on an image set, in the manner of the DCGAN's (`models.gan.run`):
resume an interrupted run or fine-tune the serving version, train within a budget, measure,
store a version and let the gate decide.

Versions are of kind `draw`; the target is the set's name for the sketch mode and
`<set>:labels` for the label mode (':' is never in a set name), so each mode has its own
serving version and gate. Interrupted-run state lives in `ARTIFACTS/checkpoints/draw/<target>/`.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.draw.config import DrawConfig, Mode
from models.errors import ModelError
from models.registry import Registry, TrainingOutcome

KIND = "draw"
TARGET_LENGTH = 64  # the registry's target column


def draw_target(set_name: str, mode: Mode) -> str:
    """The registry target of a set's draw model in `mode`."""
    target = set_name if mode == "sketch" else f"{set_name}:{mode}"
    if len(target) > TARGET_LENGTH:
        raise ModelError(f"set name too long for a {mode} model: at most {TARGET_LENGTH - len(mode) - 1} characters")
    return target


def checkpoint_dir(artifacts_dir: Path, target: str) -> Path:
    return artifacts_dir / "checkpoints" / KIND / target


def evaluation_pairs(pixels: np.ndarray, config: DrawConfig, count: int, seed: int = 1234
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(drawings, photos) of up to `count` of the photos, the sketches jittered as a hand drawing
    is; fixed by `seed`, so that versions of a set are measured on the same drawings."""
    from models.draw.pairs import conditions

    rng = np.random.default_rng(seed)
    photos = pixels[np.sort(rng.choice(len(pixels), min(count, len(pixels)), replace=False))]
    return conditions(photos, config.mode, config.style, rng), photos


def measure(translate: Any, drawings: np.ndarray, photos: np.ndarray, config: DrawConfig,
            features_dir: Path, **extractor_kwargs: float) -> dict[str, Any]:
    """Follow score of `translate(drawings)` (uint8 outputs) and of the photos themselves (the
    upper bound), and the Frechet distance of the outputs to the photos in nowbot's own feature
    space (`models.gan.metrics`)."""
    from models.draw.metrics import follow_score
    from models.gan.metrics import features, frechet_distance, load_extractor, spec_for

    spec = spec_for(config.channels)
    extractor = load_extractor(spec, features_dir, **extractor_kwargs)
    outputs = translate(drawings)
    return {
        "fid": frechet_distance(features(extractor, photos, spec), features(extractor, outputs, spec)),
        "follow": follow_score(drawings, outputs, config.mode, config.style),
        "follow_real": follow_score(drawings, photos, config.mode, config.style),
        "follow_measure": "mean IoU" if config.mode == "labels" else "edge F1 (2 px)",
        "eval_pairs": len(photos), "extractor": spec.name, "mode": config.mode,
    }


def train_draw(
    registry: Registry,
    artifacts_dir: Path,
    set_name: str,
    pixels: np.ndarray,
    *,
    mode: Mode = "sketch",
    minutes: float | None = None,
    epochs: int | None = None,
    fresh: bool = False,
    overrides: dict[str, Any] | None = None,
    image_set_id: int | None = None,
    progress: bool = True,
    eval_samples: int = 500,
    extractor_kwargs: dict[str, float] | None = None,
    run_id: int | None = None,
) -> TrainingOutcome:
    """Train the `mode` draw model on uint8 `pixels` (n, size, size, channels) for `minutes` or
    `epochs`; `run_id` names the requested training run this is (else a new run is recorded).

    An interrupted run is resumed; otherwise the serving version is fine-tuned; `fresh` discards
    both. The gate promotes a version whose Frechet distance is no worse than the serving one's,
    unless its outputs follow the drawings less than `follow_ratio` as well as the photos do.
    """
    from models.draw.train import Pix2Pix, make_optimizers, pair_dataset
    from models.gan.fitting import fit_within_budget, restore, start_config, write_networks
    from models.gan.grids import to_uint8

    if (minutes is None) == (epochs is None):
        raise ModelError("give exactly one budget: minutes or epochs")
    target = draw_target(set_name, mode)
    state_dir = checkpoint_dir(artifacts_dir, target)
    if fresh:
        shutil.rmtree(state_dir, ignore_errors=True)
    serving = None if fresh else registry.serving_local(KIND, target)
    size, channels = pixels.shape[1], pixels.shape[3]
    config = start_config(state_dir, serving, DrawConfig.load,
                          lambda: DrawConfig.for_set(size, channels, mode, **(overrides or {})), pixels, set_name)
    model = Pix2Pix(config, evaluation_pairs(pixels, config, config.grid_pairs, seed=7))
    model.compile(*make_optimizers(config))
    state, resumed, fine_tuned = restore(model, state_dir, serving)

    pairs = len(pixels) * (config.variants if mode == "sketch" else 1)
    steps_per_epoch = max(1, pairs // min(config.batch_size, pairs))
    with registry.training_run(KIND, target, run_id) as run:
        seconds = fit_within_budget(
            model, pair_dataset(pixels, config), steps_per_epoch, state, minutes=minutes,
            epochs=epochs, state_dir=state_dir, log_dir=artifacts_dir / "logs" / KIND / target,
            progress=progress, label=f"train draw ({mode})", curve=registry.curve_recorder(run.id),
        )
        drawings, photos = evaluation_pairs(pixels, config, eval_samples)
        run.metrics = measure(lambda d: to_uint8(model.translate(d)), drawings, photos, config,
                              artifacts_dir / "features", **(extractor_kwargs or {}))
        run.metrics.update(steps=model.steps, seconds=round(seconds, 1), images=len(pixels))
        version = registry.save_version(
            KIND, target, lambda folder: write_networks(model, state_dir, folder), run.metrics,
            config=asdict(config), training_run_id=run.id, image_set_id=image_set_id,
        )
        follows, bound = run.metrics["follow"], run.metrics["follow_real"]
        veto = (f"does not follow the drawings ({follows:.2f} vs the photos' {bound:.2f})"
                if follows < config.follow_ratio * bound else None)
        verdict = registry.promote_if_better(version.id, "fid", veto=veto)
    shutil.rmtree(state_dir, ignore_errors=True)  # the version now holds everything
    return TrainingOutcome(version.version, verdict, run.metrics, resumed, fine_tuned)
