"""Training throughput: characters per second of nowbot's training (its tf.data pipeline,
schedule, checkpoints and held-out checks included) against a plain `model.fit` of the
TensorFlow tutorial recipe, on the same corpus and in the same run. Models differ in size, so
the comparison is per parameter: characters/s x parameters (higher is better). A plain `fit` of
nowbot's own network on the same batches separates what nowbot's training adds from what the
network's size does, and a plain `fit` of it with Keras's own GRU layer what `CpuGRU` gains.

    .venv/bin/python -m benchmarks.text_throughput [--minutes 1] [--corpus trump_tweets]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.text_common import (
    corpus_files, load_corpus, save, time_limit, tutorial_dataset, tutorial_model,
)
from models.text.config import TextConfig
from models.text.data import pack, split_by_tweet, windows
from models.text.vocab import Vocab

WARMUP_STEPS = 5


def steady_rate() -> object:
    """A Keras callback measuring steps per second after the first few (tracing) steps."""
    import keras

    class Rate(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.steps, self.started, self.ended = 0, 0.0, 0.0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.steps += 1
            if self.steps == WARMUP_STEPS:
                self.started = time.perf_counter()
            self.ended = time.perf_counter()

        def steps_per_s(self) -> float:
            return (self.steps - WARMUP_STEPS) / max(self.ended - self.started, 1e-9)

    return Rate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="training time per model")
    parser.add_argument("--corpus", default="trump_tweets")
    args = parser.parse_args()
    import keras

    from models.text.cpu_gru import blas_threads
    from models.text.network import build_model
    from models.text.train import compile_model, fit

    (path,) = corpus_files([args.corpus])
    train, val = split_by_tweet(load_corpus(path), 0.1)
    config = TextConfig.cpu()
    vocab = Vocab.build((t for _, t in train), config.min_char_count)

    rate = steady_rate()
    with tempfile.TemporaryDirectory() as work:
        result = fit(train, val, vocab, [train[0][0]], config, Path(work), minutes=args.minutes,
                     extra_callbacks=[rate])
    nowbot = {
        "chars_per_s": rate.steps_per_s() * config.batch_size * config.seq_len,
        "params": result.model.count_params(),
        "batch": config.batch_size, "seq_len": config.seq_len, "units": config.units,
    }

    chars, owners = pack(train, vocab, [train[0][0]])

    def plain_fit(keras_gru: bool) -> float:
        """Characters per second of `model.fit` of nowbot's network, nothing else."""
        keras.utils.set_random_seed(0)
        network = build_model(config, len(vocab), 1, keras_gru=keras_gru)
        compile_model(network, config, config.learning_rate)
        rate = steady_rate()
        with blas_threads():
            network.fit(windows(chars, owners, config.seq_len, config.batch_size, config.seed),
                        epochs=1, steps_per_epoch=10**9, verbose=0,
                        callbacks=[rate, time_limit(args.minutes * 60)])
        return rate.steps_per_s() * config.batch_size * config.seq_len

    plain_chars_per_s = plain_fit(keras_gru=False)
    keras_gru_chars_per_s = plain_fit(keras_gru=True)

    model = tutorial_model(len(vocab))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tutorial_rate = steady_rate()
    model.fit(tutorial_dataset(chars).repeat(), epochs=1, steps_per_epoch=10**9, verbose=0,
              callbacks=[tutorial_rate, time_limit(args.minutes * 60)])
    tutorial = {
        "chars_per_s": tutorial_rate.steps_per_s() * 64 * 100,
        "params": model.count_params(), "batch": 64, "seq_len": 100, "units": 1024,
    }
    for entry in (nowbot, tutorial):
        entry["param_chars_per_s"] = entry["chars_per_s"] * entry["params"]
    ratio = nowbot["param_chars_per_s"] / tutorial["param_chars_per_s"]
    save("text_throughput", {
        "corpus": path.stem,
        "minutes_per_model": args.minutes,
        "nowbot": nowbot,
        "tutorial": tutorial,
        "per_parameter_ratio": ratio,
        "plain_fit_of_nowbot_network": {
            "chars_per_s": plain_chars_per_s,
            "nowbot_over_plain": nowbot["chars_per_s"] / plain_chars_per_s,
        },
        "plain_fit_with_keras_gru": {  # the same network with Keras's own GRU layer
            "chars_per_s": keras_gru_chars_per_s,
            "cpu_gru_speedup": plain_chars_per_s / keras_gru_chars_per_s,
        },
        "target": "per_parameter_ratio >= 1 (no slower per parameter)",
        "target_met": ratio >= 1.0,
    })


if __name__ == "__main__":
    main()
