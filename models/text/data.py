"""Training data: tweets from the database, a split by tweet, and the tf.data windows.

Tweets are packed back to back (`<tweet> text </tweet> <tweet> text </tweet> ...`) so no step is
spent on padding; every step also carries the persona id of the tweet it belongs to. Held-out
tweets are scored one by one from an empty state, exactly as generation starts.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ModelError
from models.text.vocab import BOS, Vocab
from storage.corpus import Persona, Tweet

if TYPE_CHECKING:
    import tensorflow as tf

PersonaTweet = tuple[str, str]  # (persona name, text)


def load_tweets(
    sessions: sessionmaker[Session], personas: Sequence[str] = ()
) -> list[PersonaTweet]:
    """Stored tweets of `personas` (all personas when empty), oldest first."""
    query = select(Persona.name, Tweet.text).join(Tweet.persona).order_by(Tweet.id)
    with sessions() as session:
        if personas:
            known = set(session.scalars(select(Persona.name).where(Persona.name.in_(personas))))
            if missing := [name for name in personas if name not in known]:
                raise ModelError(f"no persona named {', '.join(missing)}: import tweets first")
            query = query.where(Persona.name.in_(personas))
        tweets = [(name, text) for name, text in session.execute(query)]
    if not tweets:
        raise ModelError("no tweets to train on: import a corpus first (nowbot corpus import)")
    return tweets


def persona_names(sessions: sessionmaker[Session]) -> list[str]:
    """The personas that have tweets to learn from, by name."""
    query = select(Persona.name).join(Tweet.persona).distinct().order_by(Persona.name)
    with sessions() as session:
        return list(session.scalars(query))


def split_by_tweet(
    tweets: Sequence[PersonaTweet], val_fraction: float
) -> tuple[list[PersonaTweet], list[PersonaTweet]]:
    """Training and held-out tweets. A tweet's side depends only on its text, so it stays on
    the same side when the corpus grows (fine-tuning never trains on old held-out tweets)."""
    cut = int(val_fraction * 10_000)
    train, val = [], []
    for tweet in tweets:
        (val if zlib.crc32(tweet[1].encode("utf-8")) % 10_000 < cut else train).append(tweet)
    if val_fraction > 0 and not val and len(train) > 1:
        val.append(train.pop())
    if not train or (val_fraction > 0 and not val):
        raise ModelError(f"too few tweets to train on and hold some out ({len(tweets)})")
    return train, val


def pack(
    tweets: Sequence[PersonaTweet], vocab: Vocab, personas: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One stream of symbol ids and the persona id at each position."""
    index = {name: i for i, name in enumerate(personas)}
    chars: list[int] = []
    owners: list[int] = []
    for persona, text in tweets:
        ids = vocab.encode_tweet(text)
        chars.extend(ids)
        owners.extend([index[persona]] * len(ids))
    return np.asarray(chars, np.int32), np.asarray(owners, np.int32)


def windows(
    chars: np.ndarray, owners: np.ndarray, seq_len: int, batch_size: int, seed: int
) -> tf.data.Dataset:
    """An endless shuffled dataset of ((chars, personas), next chars, weights) batches.

    Windows start on a grid shifted by a random offset each time, so every split point is seen.
    The step after an end symbol (predicting the next start symbol) gets weight 0: it is free,
    and counting it would flatter the loss.
    """
    import tensorflow as tf

    seq_len = min(seq_len, len(chars) - 1)
    count = (len(chars) - 1) // seq_len
    last_start = len(chars) - seq_len - 1
    all_chars, all_owners = tf.constant(chars), tf.constant(owners)

    def batch_of_windows(
        i: tf.Tensor,
    ) -> tuple[tuple[tf.Tensor, tf.Tensor], tf.Tensor, tf.Tensor]:
        # A whole batch per call: one gather instead of a few small ops per window.
        shift = tf.random.uniform(tf.shape(i), 0, seq_len, dtype=tf.int64)
        start = tf.minimum(i * seq_len + shift, last_start)
        at = start[:, None] + tf.range(seq_len + 1, dtype=tf.int64)  # (batch, seq_len + 1)
        pieces = tf.gather(all_chars, at)
        target = pieces[:, 1:]
        weight = tf.cast(tf.not_equal(target, BOS), tf.float32)
        return (pieces[:, :-1], tf.gather(all_owners, at[:, :-1])), target, weight

    return (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size)
        .map(batch_of_windows, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def steps_per_pass(chars: np.ndarray, seq_len: int, batch_size: int) -> int:
    """Training steps that see every character about once."""
    return max(1, len(chars) // (seq_len * batch_size))


def by_length(tweets: Sequence[PersonaTweet]) -> list[PersonaTweet]:
    """Tweets shortest first (stable): the order `heldout_batches` scores them in."""
    return sorted(tweets, key=lambda tweet: len(tweet[1]))


def heldout_batches(
    tweets: Sequence[PersonaTweet], vocab: Vocab, personas: Sequence[str], batch_size: int = 64
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Held-out tweets as padded (inputs, persona ids, targets) batches of similar length;
    padded targets are 0 (`PAD`) and not scored."""
    index = {name: i for i, name in enumerate(personas)}
    encoded = [(vocab.encode_tweet(text), index[persona]) for persona, text in by_length(tweets)]
    batches = []
    for start in range(0, len(encoded), batch_size):
        group = encoded[start : start + batch_size]
        width = max(len(ids) for ids, _ in group) - 1
        inputs = np.zeros((len(group), width), np.int32)
        targets = np.zeros((len(group), width), np.int32)
        for row, (ids, _) in enumerate(group):
            inputs[row, : len(ids) - 1] = ids[:-1]
            targets[row, : len(ids) - 1] = ids[1:]
        owners = np.repeat(np.asarray([p for _, p in group], np.int32)[:, None], width, 1)
        batches.append((inputs, owners, targets))
    return batches
