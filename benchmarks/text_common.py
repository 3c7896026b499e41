"""Shared by the text benchmarks: corpora as the product reads them, results as JSON, and the
TensorFlow tutorial recipe the benchmarks compare against."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from corpora.cleaning import CleanOptions, clean
from corpora.formats import read_corpus_file
from models.text.data import PersonaTweet

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "data" / "tweets"
RESULTS = Path(__file__).resolve().parent / "results"


def corpus_files(names: list[str] | None = None) -> list[Path]:
    """The benchmark corpora, smallest first (all of them unless `names` picks by stem)."""
    files = sorted(CORPORA.iterdir(), key=lambda p: p.stat().st_size)
    return [p for p in files if not names or p.stem in names]


def load_corpus(path: Path) -> list[PersonaTweet]:
    """Tweets of one file as imported: retweets dropped, links removed, one persona."""
    _, records = read_corpus_file(path)
    kept, _ = clean(records, CleanOptions(drop_retweets=True, strip_links=True))
    return [(path.stem, record.text) for record in kept]


def save(name: str, result: dict[str, Any]) -> None:
    """Print the result as JSON and keep a copy in benchmarks/results/."""
    result = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **result,
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json").write_text(text)


def tutorial_model(vocab_size: int) -> Any:
    """The TensorFlow text-generation tutorial's network: Embedding 256 -> GRU 1024 -> Dense."""
    import keras

    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, 256),
            keras.layers.GRU(1024, return_sequences=True),
            keras.layers.Dense(vocab_size),
        ],
        name="tutorial",
    )


def tutorial_dataset(chars: Any, seq_len: int = 100, batch_size: int = 64) -> Any:
    """The tutorial's input: fixed non-overlapping sequences, shuffle buffer 10,000, batch 64."""
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(chars)
        .batch(seq_len + 1, drop_remainder=True)
        .map(lambda s: (s[:-1], s[1:]))
        .shuffle(10_000)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def time_limit(seconds: float) -> Any:
    """A Keras callback that stops `fit` once `seconds` of wall-clock time have passed."""
    import keras

    class TimeLimit(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.started = time.monotonic()
            self.steps = 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.steps += 1
            if time.monotonic() - self.started >= seconds:
                self.model.stop_training = True

    return TimeLimit()
