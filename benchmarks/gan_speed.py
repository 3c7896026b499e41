"""Training speed: steps per second of nowbot's GAN step (hinge loss, DiffAugment on real and
fake, EMA update) against the TensorFlow DCGAN tutorial's `train_step`, at the same batch (256)
and resolution, in the same run. Rounds alternate between the two to share the machine's mood.

    .venv/bin/python -m benchmarks.gan_speed [--steps 20] [--rounds 3] [--size 28 --channels 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.gan_common import TUTORIAL_BATCH, save, tutorial_discriminator, tutorial_generator, tutorial_train_step


def _rate(step, batch, steps: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(steps):
        result = step(batch)
    float(result[0] if isinstance(result, tuple) else result["d_loss"])  # wait for the last step
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    args = parser.parse_args()

    import tensorflow as tf

    from models.gan.config import GanConfig
    from models.gan.train import DCGAN, make_optimizers

    batch = tf.random.uniform([TUTORIAL_BATCH, args.size, args.size, args.channels], -1, 1)
    config = GanConfig.for_set(args.size, args.channels, batch_size=TUTORIAL_BATCH)
    gan = DCGAN(config)
    gan.compile(*make_optimizers(config))
    sides = {
        "tutorial": tutorial_train_step(tutorial_generator(args.size, args.channels),
                                        tutorial_discriminator(args.size, args.channels)),
        "nowbot": tf.function(gan.train_step),
    }
    for step in sides.values():
        _rate(step, batch, 3)  # trace and warm up
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, step in sides.items():
            rates[name].append(_rate(step, batch, args.steps))
    median = {name: statistics.median(values) for name, values in rates.items()}
    save("gan_speed", {
        "batch": TUTORIAL_BATCH, "shape": [args.size, args.size, args.channels],
        "steps_per_round": args.steps, "rounds": args.rounds,
        "steps_per_s": {name: round(value, 3) for name, value in median.items()},
        "images_per_s": {name: round(value * TUTORIAL_BATCH, 1) for name, value in median.items()},
        "all_rounds": {name: [round(v, 3) for v in values] for name, values in rates.items()},
        "speedup": round(median["nowbot"] / median["tutorial"], 3),
        "target": "nowbot no slower than the tutorial (speedup >= 1)",
        "met": median["nowbot"] >= median["tutorial"],
    })


if __name__ == "__main__":
    main()
