"""Quality per CPU minute: the Frechet distance (nowbot's own feature extractor, see
models/gan/metrics.py) reached after the same training budget by nowbot's default image model
and by the TensorFlow DCGAN tutorial recipe, on the MNIST test images and the apple photos in
shared/data, both imported with nowbot's importer. Lower is better. Sample grids of both sides
are saved to benchmarks/results/gan_quality-<set>-<side>.png to be looked at.

    .venv/bin/python -m benchmarks.gan_quality [--minutes 10] [--sets mnist apples]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.gan_common import (
    RESULTS, SOURCES, TUTORIAL_BATCH, TUTORIAL_NOISE, import_set, save, tutorial_discriminator,
    tutorial_generator, tutorial_train_step,
)

EVAL_SAMPLES = 2000


def train_tutorial(pixels: np.ndarray, minutes: float) -> tuple[Any, int]:
    """The tutorial loop for `minutes` of wall-clock time, balanced batches of up to 256."""
    import tensorflow as tf

    size, channels = pixels.shape[1], pixels.shape[3]
    generator, discriminator = tutorial_generator(size, channels), tutorial_discriminator(size, channels)
    step = tutorial_train_step(generator, discriminator)
    batch = min(TUTORIAL_BATCH, len(pixels))
    data = (tf.data.Dataset.from_tensor_slices(pixels).shuffle(len(pixels)).repeat()
            .batch(batch, drop_remainder=True)
            .map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0).prefetch(2))
    deadline, steps = time.monotonic() + minutes * 60, 0
    for images in data:
        step(images)
        steps += 1
        if time.monotonic() >= deadline:
            break
    return generator, steps


def frechet(generate: Any, latent_dim: int, pixels: np.ndarray, extractor: Any, spec: Any) -> dict[str, float]:
    """The same measurement for both sides: generated vs (up to) 2,000 real images."""
    from models.gan.grids import to_uint8
    from models.gan.metrics import diversity, features, frechet_distance

    rng = np.random.default_rng(1234)
    count = min(EVAL_SAMPLES, len(pixels))
    real = features(extractor, pixels[rng.choice(len(pixels), count, replace=False)], spec)
    latents = rng.standard_normal((count, latent_dim)).astype(np.float32)
    fake = features(extractor, to_uint8(generate(latents)), spec)
    return {"fid": round(frechet_distance(real, fake), 3), "diversity": round(diversity(real, fake).ratio, 3)}


def grid(generate: Any, latent_dim: int, path: Path) -> None:
    from models.gan.grids import make_grid, save_png, to_uint8

    latents = np.random.default_rng(7).standard_normal((64, latent_dim)).astype(np.float32)
    images = to_uint8(generate(latents))
    save_png(make_grid(images, columns=8, scale=2 if images.shape[1] <= 32 else 1), path)


def run_set(name: str, minutes: float, work: Path) -> dict[str, Any]:
    from bot.app import open_app
    from bot.config import Settings
    from models.gan.metrics import load_extractor, spec_for
    from models.gan.run import train_gan
    from models.gan.sample import load_generator
    from models.registry import Registry

    app = open_app(Settings(data_dir=work / name))
    pixels = import_set(app, name)
    spec = spec_for(pixels.shape[3])
    extractor = load_extractor(spec, app.artifacts_dir / "features")  # trained outside the budgets

    cpu = time.process_time()
    outcome = train_gan(Registry(app.sessions, app.artifacts_dir), app.artifacts_dir, name, pixels,
                        minutes=minutes, fresh=True, progress=False)
    nowbot_cpu = time.process_time() - cpu
    # The version just trained, whatever the gate said (a collapsed run is still measured).
    config, generator = load_generator(app.artifacts_dir / "models" / "gan" / name / f"v{outcome.version:04d}")
    sample_nowbot = lambda z: generator.predict(z, batch_size=256, verbose=0)  # noqa: E731
    nowbot = {**frechet(sample_nowbot, config.latent_dim, pixels, extractor, spec),
              "steps": outcome.metrics["steps"], "batch": min(config.batch_size, len(pixels)),
              "cpu_s": round(nowbot_cpu, 1), "verdict": outcome.verdict.reason}
    grid(sample_nowbot, config.latent_dim, RESULTS / f"gan_quality-{name}-nowbot.png")

    cpu = time.process_time()
    tutorial_gen, steps = train_tutorial(pixels, minutes)
    tutorial_cpu = time.process_time() - cpu
    sample_tutorial = lambda z: tutorial_gen.predict(z, batch_size=256, verbose=0)  # noqa: E731
    tutorial = {**frechet(sample_tutorial, TUTORIAL_NOISE, pixels, extractor, spec),
                "steps": steps, "batch": min(TUTORIAL_BATCH, len(pixels)), "cpu_s": round(tutorial_cpu, 1)}
    grid(sample_tutorial, TUTORIAL_NOISE, RESULTS / f"gan_quality-{name}-tutorial.png")
    return {
        "images": len(pixels), "shape": list(pixels.shape[1:]), "extractor": spec.name,
        "nowbot": nowbot, "tutorial": tutorial, "met": nowbot["fid"] < tutorial["fid"],
        "grids": [f"benchmarks/results/gan_quality-{name}-{side}.png" for side in ("nowbot", "tutorial")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model and set")
    parser.add_argument("--sets", nargs="+", choices=sorted(SOURCES), default=["mnist", "apples"])
    parser.add_argument("--work", type=Path, help="keep imported sets and extractors here (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        results = {name: run_set(name, args.minutes, work) for name in args.sets}
    save("gan_quality", {
        "minutes_per_model": args.minutes, "metric": "Frechet distance, lower is better",
        "target": "nowbot lower than the tutorial on every set", "sets": results,
        "met": all(result["met"] for result in results.values()),
    })


if __name__ == "__main__":
    main()
