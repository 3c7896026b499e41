"""Held-out bits per character after the same wall-clock budget, per corpus: (a) nowbot's
default model (the GRU mixed with its n-gram; each part's own score is reported too), (b) the
TensorFlow tutorial recipe, (c) a Kneser-Ney character 8-gram of all the training tweets.

All three predict the same symbols (nowbot's vocabulary built from the training tweets; rare
characters are the unknown symbol) and are scored the same way: each held-out tweet from its
start symbol through its end symbol. Split: 90/10 by tweet (a hash of the text).

    .venv/bin/python -m benchmarks.text_quality [--minutes 10] [--corpus elonmusk_tweets]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.text_common import (
    corpus_files, load_corpus, save, time_limit, tutorial_dataset, tutorial_model,
)
from models.text.config import TextConfig
from models.text.data import PersonaTweet, heldout_batches, pack, split_by_tweet
from models.text.ngram import NGram, NGramState
from models.text.vocab import EOS, Vocab


def nowbot_bpc(train: list[PersonaTweet], val: list[PersonaTweet], vocab: Vocab,
               minutes: float) -> dict[str, float]:
    from models.text.train import fit

    persona = train[0][0]
    with tempfile.TemporaryDirectory() as work:
        result = fit(train, val, vocab, [persona], TextConfig.cpu(), Path(work), minutes=minutes)
    keys = ("bpc", "gru_bpc", "ngram_bpc", "steps", "epochs", "chars_per_s")
    return {k: result.metrics[k] for k in keys} | {"params": result.model.count_params()}


def tutorial_bpc(train: list[PersonaTweet], val: list[PersonaTweet], vocab: Vocab,
                 minutes: float) -> dict[str, float]:
    import keras
    import tensorflow as tf

    from models.text.evaluation import heldout_bpc

    keras.utils.set_random_seed(0)
    chars, _ = pack(train, vocab, [train[0][0]])
    model = tutorial_model(len(vocab))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    limit = time_limit(minutes * 60)
    started = time.monotonic()
    model.fit(tutorial_dataset(chars).repeat(), epochs=1, steps_per_epoch=10**9,
              callbacks=[limit], verbose=0)
    seconds = time.monotonic() - started
    batches = heldout_batches(val, vocab, [train[0][0]])
    # One traced graph for every batch shape (eagerly, the GRU's time loop runs op by op).
    logits = tf.function(lambda x: model(x, training=False),
                         input_signature=[tf.TensorSpec((None, None), tf.int32)])
    return {
        "bpc": heldout_bpc(lambda x, _p: logits(x), batches),
        "steps": limit.steps,
        "epochs": limit.steps * 64 * 100 / len(chars),
        "chars_per_s": limit.steps * 64 * 100 / seconds,
        "params": model.count_params(),
    }


def kneser_ney_bpc(train: list[PersonaTweet], val: list[PersonaTweet], vocab: Vocab) -> dict:
    started = time.monotonic()
    model = NGram.fit([vocab.encode(t) + [EOS] for _, t in train], 8, len(vocab))
    fitted = time.monotonic() - started
    # Every next-symbol distribution along a few held-out tweets sums to 1.
    error = 0.0
    for _, text in val[:3]:
        state = NGramState(model, 1)
        for symbol in vocab.encode(text)[:40]:
            error = max(error, abs(float(state.distribution().sum()) - 1.0))
            state.advance(np.asarray([symbol]))
    return {
        "bpc": model.bpc([vocab.encode(t) + [EOS] for _, t in val]),
        "fit_seconds": fitted,
        "max_normalisation_error": error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    parser.add_argument("--corpus", action="append", help="corpus file stem (repeat; default all)")
    args = parser.parse_args()
    corpora = {}
    for path in corpus_files(args.corpus):
        tweets = load_corpus(path)
        train, val = split_by_tweet(tweets, 0.1)
        vocab = Vocab.build((t for _, t in train), TextConfig.cpu().min_char_count)
        entry = {
            "tweets": {"train": len(train), "heldout": len(val)},
            "train_chars": sum(len(t) for _, t in train),
            "vocab": len(vocab),
            "nowbot": nowbot_bpc(train, val, vocab, args.minutes),
            "tutorial": tutorial_bpc(train, val, vocab, args.minutes),
            "kneser_ney_8": kneser_ney_bpc(train, val, vocab),
        }
        entry["target_met"] = entry["nowbot"]["bpc"] < min(
            entry["tutorial"]["bpc"], entry["kneser_ney_8"]["bpc"]
        )
        corpora[path.stem] = entry
    save("text_quality", {
        "minutes_per_model": args.minutes,
        "target": "nowbot bpc below both the tutorial recipe and the Kneser-Ney 8-gram",
        "corpora": corpora,
        "target_met": all(c["target_met"] for c in corpora.values()),
    })


if __name__ == "__main__":
    main()
