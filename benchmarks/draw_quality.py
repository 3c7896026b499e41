"""Does the draw model follow the drawing and look real? nowbot's draw model against the pix2pix
tutorial recipe scaled to the set's size (U-Net, PatchGAN, cross-entropy + 100 L1, Adam 2e-4
beta1 0.5, batch 1) at the same CPU budget, and against a nearest-neighbour baseline (the training
photo whose drawing is closest), on held-out photos: apple varieties never seen in training
(the varieties are frames of one rotating apple each, so frames of one variety are not
independent) and the last 2,000 MNIST test digits. Sample sheets (drawing | output | photo) go to
benchmarks/results/draw_quality-<set>-<mode>-<side>.png (not committed: they hold the data's photos).

- follows the drawing: edge F1 (2 px tolerance) of the output's own lines against the sketch, or
  mean IoU of the output re-quantised to the palette against the label map; the real photo is
  the upper bound, a random other held-out photo the lower one.
- looks real: Frechet distance of outputs to the held-out photos in nowbot's own feature space.

    .venv/bin/python -m benchmarks.draw_quality [--minutes 10] [--sets apples mnist] [--modes sketch labels]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.gan_common import RESULTS, import_set, save

HELD_OUT_APPLES = ("Apple_Braeburn", "Apple_Golden_3")  # one red, one yellow variety
HELD_OUT_DIGITS = 2000
PIX2PIX_L1 = 100.0


def split(app: Any, name: str, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) photos: by variety for apples, the last digits for MNIST."""
    from sqlalchemy import select

    from storage.imagesets import Image, ImageSet

    if name != "apples":
        return pixels[:-HELD_OUT_DIGITS], pixels[-HELD_OUT_DIGITS:]
    with app.sessions() as session:
        names = list(session.scalars(select(Image.original_name).join(ImageSet)
                                     .where(ImageSet.name == name).order_by(Image.id)))
    held = np.array([n.split("/")[0] in HELD_OUT_APPLES for n in names])
    return pixels[~held], pixels[held]


def pix2pix_generator(config: Any) -> Any:
    """The tutorial's U-Net, scaled: stride-2 conv + BN + LeakyReLU down (64, 128, 256, 512...),
    transposed conv + BN (+ dropout 0.5 on the first three) + ReLU up, skip connections."""
    import keras
    from keras import layers

    from models.draw.network import input_channels

    drawing = keras.Input((config.size, config.size, input_channels(config)))
    x, skips = drawing, []
    for step in range(config.downsamplings):
        x = layers.Conv2D(min(64 * 2**step, 512), 4, strides=2, padding="same", use_bias=False)(x)
        if step:
            x = layers.BatchNormalization()(x)
        skips.append(layers.LeakyReLU(0.2)(x))
        x = skips[-1]
    for step in reversed(range(config.downsamplings - 1)):
        x = layers.Conv2DTranspose(min(64 * 2**step, 512), 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        if step >= config.downsamplings - 4:
            x = layers.Dropout(0.5)(x)
        x = layers.Concatenate()([layers.ReLU()(x), skips[step]])
    photo = layers.Conv2DTranspose(config.channels, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(drawing, photo, name="pix2pix_generator")


def pix2pix_discriminator(config: Any) -> Any:
    """The tutorial's PatchGAN on (drawing, photo): conv 64, 128 (BN), 256 (BN) stride 2, then
    conv 512 (BN) and conv 1, stride 1."""
    import keras
    from keras import layers

    from models.draw.network import input_channels

    pair = keras.Input((config.size, config.size, input_channels(config) + config.channels))
    x = pair
    for step, filters in enumerate((64, 128, 256)[: min(3, config.downsamplings)]):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False)(x)
        if step:
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(layers.Conv2D(512, 4, padding="same", use_bias=False)(x)))
    return keras.Model(pair, layers.Conv2D(1, 4, padding="same")(x), name="pix2pix_discriminator")


def train_pix2pix(pixels: np.ndarray, config: Any, minutes: float) -> tuple[Any, int]:
    """The tutorial loop on the same pairs (batch 1) for `minutes` of wall-clock time."""
    import dataclasses

    import keras
    import tensorflow as tf

    from models.draw.train import pair_dataset

    generator, discriminator = pix2pix_generator(config), pix2pix_discriminator(config)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def step(drawing: Any, real: Any) -> None:
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(drawing, training=True)
            real_out = discriminator(tf.concat([drawing, real], -1), training=True)
            fake_out = discriminator(tf.concat([drawing, fake], -1), training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out) + PIX2PIX_L1 * tf.reduce_mean(tf.abs(real - fake))
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))

    deadline, steps = time.monotonic() + minutes * 60, 0
    for drawing, real in pair_dataset(pixels, dataclasses.replace(config, batch_size=1)):
        step(drawing, real)
        steps += 1
        if time.monotonic() >= deadline:
            break
    return generator, steps


def nearest_neighbour(train: np.ndarray, config: Any) -> Any:
    """The training photo whose (clean) drawing is closest to the input, in blurred pixels."""
    from models.draw.pairs import conditions
    from models.draw.train import condition_tensor

    def key(drawings: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        x = tf.nn.avg_pool2d(condition_tensor(drawings, config), 3, 1, "SAME")  # tolerance for shifts
        return np.asarray(x).reshape(len(drawings), -1)

    known = key(conditions(train, config.mode, config.style))

    def translate(drawings: np.ndarray) -> np.ndarray:
        queries = key(drawings)
        distances = (queries**2).sum(1)[:, None] + (known**2).sum(1)[None] - 2 * queries @ known.T
        return train[distances.argmin(1)]

    return translate


def run_mode(app: Any, name: str, mode: str, train: np.ndarray, held: np.ndarray, minutes: float,
             spade_check: bool) -> dict[str, Any]:
    from models.draw.config import DrawConfig
    from models.draw.render import pair_sheet
    from models.draw.run import draw_target, evaluation_pairs, measure, train_draw
    from models.draw.sample import load_generator, translate
    from models.gan.grids import save_png, to_uint8
    from models.registry import Registry

    registry = Registry(app.sessions, app.artifacts_dir)
    drawings, photos = evaluation_pairs(held, DrawConfig.for_set(held.shape[1], held.shape[3], mode), 2000)  # type: ignore[arg-type]
    features = app.artifacts_dir / "features"
    sides: dict[str, Any] = {}

    def score(side: str, outputs_of: Any, config: Any, **extra: Any) -> None:
        metrics = measure(outputs_of, drawings, photos, config, features)
        sides[side] = {"fid": round(metrics["fid"], 3), "follow": round(metrics["follow"], 4), **extra}
        sheet = pair_sheet(drawings[:12], outputs_of(drawings[:12]) / 127.5 - 1.0, photos[:12], config)
        save_png(sheet, RESULTS / f"draw_quality-{name}-{mode}-{side}.png")
        sides.setdefault("_bounds", {"follow_real": round(metrics["follow_real"], 4)})

    variants = {"nowbot": {}} | ({"nowbot_unet": {"spade": False}} if spade_check and mode == "labels" else {})
    for side, overrides in variants.items():
        cpu = time.process_time()
        outcome = train_draw(registry, app.artifacts_dir, name, train, mode=mode, minutes=minutes,  # type: ignore[arg-type]
                             fresh=True, progress=False, overrides=overrides)
        folder = app.artifacts_dir / "models" / "draw" / draw_target(name, mode) / f"v{outcome.version:04d}"  # type: ignore[arg-type]
        config, _ = load_generator(folder)
        score(side, lambda d, f=folder: translate(f, d), config, steps=outcome.metrics["steps"],
              batch=config.batch_size, spade=config.spade, cpu_s=round(time.process_time() - cpu, 1))

    cpu = time.process_time()
    generator, steps = train_pix2pix(train, config, minutes)
    from models.draw.train import condition_tensor

    score("pix2pix", lambda d: to_uint8(generator.predict(condition_tensor(d, config), batch_size=64, verbose=0)),
          config, steps=steps, batch=1, cpu_s=round(time.process_time() - cpu, 1))
    score("nearest", nearest_neighbour(train, config), config)
    rng = np.random.default_rng(5)
    other = photos[rng.permutation(len(photos))]  # a random other photo: the lower bound
    from models.draw.metrics import follow_score

    bounds = sides.pop("_bounds")
    bounds["follow_random_photo"] = round(follow_score(drawings, other, mode, config.style), 4)
    ours, baselines = sides["nowbot"], [sides["pix2pix"], sides["nearest"]]
    return {
        "follow_measure": "mean IoU" if mode == "labels" else "edge F1 (2 px)", **bounds,
        "sides": sides,
        "met": {
            "follow_beats_baselines": all(ours["follow"] > b["follow"] for b in baselines),
            "fid_beats_baselines": all(ours["fid"] < b["fid"] for b in baselines),
            "follow_at_least_75pct_of_real": ours["follow"] >= 0.75 * bounds["follow_real"],
        },
        "sheets": [f"benchmarks/results/draw_quality-{name}-{mode}-{side}.png" for side in sides],
    }


def main() -> None:
    from bot.app import open_app
    from bot.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    parser.add_argument("--sets", nargs="+", choices=["apples", "mnist"], default=["apples", "mnist"])
    parser.add_argument("--modes", nargs="+", choices=["sketch", "labels"], default=["sketch", "labels"])
    parser.add_argument("--spade-check", action="store_true", help="also train label mode without SPADE")
    parser.add_argument("--work", type=Path, help="keep imported sets and extractors here (default: temporary)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        for name in args.sets:
            app = open_app(Settings(data_dir=work / name))
            train, held = split(app, name, import_set(app, name))
            results[name] = {"train": len(train), "held_out": len(held), "shape": list(train.shape[1:]),
                             **{mode: run_mode(app, name, mode, train, held, args.minutes, args.spade_check)
                                for mode in args.modes}}
    met = [value for result in results.values() for mode in args.modes for value in result[mode]["met"].values()]
    save("draw_quality", {
        "minutes_per_model": args.minutes, "sets": results,
        "targets": "nowbot above both baselines on follow and below them on Frechet distance; "
                   "follow at least 75% of the real photo's",
        "met": all(met),
    })


if __name__ == "__main__":
    main()
