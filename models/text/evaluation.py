"""Held-out scoring of the persona char-GRU and its n-gram mixture: bits per symbol of each
held-out tweet from its start symbol through its end symbol, as generation sees it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from models.text import data
from models.text.ngram import NGram
from models.text.vocab import EOS, PAD, Vocab

Network = Callable[[np.ndarray, np.ndarray], Any]  # (ids, persona ids) -> logits


def heldout_probs(
    logits: Callable[[np.ndarray, np.ndarray], Any],
    batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> np.ndarray:
    """The network's probability of every held-out symbol (each character and end symbol),
    each tweet scored from an empty state after its start symbol; tweets in batch order."""
    probs = []
    for inputs, owners, targets in batches:
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits(inputs, owners))
        probs.append(np.exp(-np.asarray(nats, np.float64)[targets != PAD]))
    return np.concatenate(probs) if probs else np.ones(0)


def bits_per_symbol(probs: np.ndarray) -> float:
    """Mean bits to encode symbols given their probabilities."""
    return float(-np.log2(probs).mean()) if len(probs) else 0.0


def heldout_bpc(
    logits: Callable[[np.ndarray, np.ndarray], Any],
    batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> float:
    """Bits per symbol of the network alone over held-out tweets (see `heldout_probs`)."""
    return bits_per_symbol(heldout_probs(logits, batches))


def targets(tweets: Sequence[data.PersonaTweet], vocab: Vocab) -> list[list[int]]:
    """What the model predicts of each tweet: its characters, then the end symbol."""
    return [vocab.encode(text) + [EOS] for _, text in tweets]


def gru_probs(
    network: Network, tweets: Sequence[data.PersonaTweet], vocab: Vocab, personas: list[str]
) -> np.ndarray:
    """The GRU's probability of every symbol of `tweets`, in the order of `targets(tweets)`
    (`tweets` must already be sorted by `data.by_length`, the order they are batched in)."""
    return heldout_probs(network, data.heldout_batches(tweets, vocab, personas))


def traced_network(model: keras.Model) -> Network:
    """The model's logits for (batch, time) ids of any shape, traced once into one graph.
    Called eagerly, Keras's GRU runs its time loop op by op: about 8x slower on CPU, which made
    the held-out checks between checkpoints about a fifth of a training run's time."""
    ids = tf.TensorSpec((None, None), tf.int32)

    @tf.function(input_signature=[ids, ids])
    def logits(inputs: tf.Tensor, owners: tf.Tensor) -> tf.Tensor:
        return model((inputs, owners), training=False)

    return lambda inputs, owners: logits(
        tf.convert_to_tensor(inputs, tf.int32), tf.convert_to_tensor(owners, tf.int32)
    )


def fit_ngram(
    network: Network, train: Sequence[data.PersonaTweet], dev: Sequence[data.PersonaTweet],
    vocab: Vocab, personas: list[str], order: int,
) -> NGram:
    """The n-gram of the training tweets, its mixture weights fitted on the dev tweets (an
    even mixture when there are none)."""
    ngram = NGram.fit(targets(train, vocab), order, len(vocab))
    if dev:
        dev = data.by_length(dev)
        gru = gru_probs(network, dev, vocab, personas)
        ngram.fit_weights(gru, *ngram.probs(targets(dev, vocab)))
    return ngram


def score(
    network: Network, ngram: NGram | None, tweets: Sequence[data.PersonaTweet], vocab: Vocab,
    personas: list[str],
) -> dict[str, float]:
    """Held-out bits per symbol of the model (`bpc`: the mixture when there is an n-gram) and
    of each part."""
    tweets = data.by_length(tweets)
    gru = gru_probs(network, tweets, vocab, personas)
    if ngram is None:
        return {"bpc": bits_per_symbol(gru), "gru_bpc": bits_per_symbol(gru)}
    counted, bucket = ngram.probs(targets(tweets, vocab))
    return {
        "bpc": bits_per_symbol(ngram.mix(gru, counted, bucket)),
        "gru_bpc": bits_per_symbol(gru),
        "ngram_bpc": bits_per_symbol(counted),
    }
