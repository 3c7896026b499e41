"""An interpolated (modified) Kneser-Ney character n-gram in NumPy, the count-based half of
nowbot's text model, and its mixture with the GRU.

The GRU learns style and long context; on a few hundred thousand characters it forgets the
rare exact phrases a count model keeps. nowbot's model is therefore a mixture: P(next) =
w * P_gru + (1 - w) * P_ngram, where w depends on how long a context the n-gram has seen
(`bucket`: the highest order whose context occurs in training) and is fitted on the dev
tweets by expectation-maximisation.

Each tweet is padded on the left with `order - 1` start symbols and ends with its end symbol,
the same symbols the GRU predicts. Order-k n-grams get dense ids from their (order k-1 prefix
id, last symbol) pairs, so every count is an array lookup. Highest order: raw counts; lower
orders: continuation counts (distinct left extensions), except n-grams opening with the start
symbol, which have no left context and keep raw counts. Three discounts per order (1, 2, 3+)
from the counts of counts, as in Chen & Goodman's modified Kneser-Ney; every order is
interpolated with the one below, down to uniform over the symbols that can be predicted.
Stored per order: each n-gram's discounted probability given its context, and each context's
back-off weight, so P_k(s | c) = discounted(c, s) + backoff(c) * P_{k-1}(s | shorter c).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.text.vocab import BOS, PAD

PRIOR_WEIGHT = 50.0  # pseudo-positions pulling a sparse bucket's weight to the overall one


def _pad(sequences: Sequence[Sequence[int]], order: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated padded tweets and the positions of their real symbols (the targets)."""
    stream, targets, at = [], [], 0
    for ids in sequences:
        stream.append(np.full(order - 1, BOS, np.int64))
        stream.append(np.asarray(ids, np.int64))
        targets.append(np.arange(at + order - 1, at + order - 1 + len(ids)))
        at += order - 1 + len(ids)
    if not stream:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(stream), np.concatenate(targets)


def _discounts(counts: np.ndarray) -> np.ndarray:
    """D(0..3): 0 for unseen, then D1, D2, D3+ from the counts of counts n1..n4."""
    n = [np.count_nonzero(counts == i) for i in range(1, 5)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] else 0.5
    ds = [0.0]
    for i in (1, 2, 3):
        d = i - (i + 1) * y * n[i] / n[i - 1] if n[i - 1] else y
        ds.append(min(max(d, 0.0), float(i)))
    return np.asarray(ds)


@dataclass
class NGram:
    """A fitted model over symbol ids 0..vocab-1; `weights[b]` is the GRU's share in the
    mixture at bucket b (1..order)."""

    order: int
    vocab: int
    keys: list[np.ndarray]  # per order: sorted (context id * vocab + symbol); index = n-gram id
    discounted: list[np.ndarray]  # per order and n-gram: its discounted share of its context
    backoff: list[np.ndarray]  # per order and context id: weight of the order below
    weights: np.ndarray  # (order + 1,) GRU weight per bucket

    @classmethod
    def fit(cls, sequences: Sequence[Sequence[int]], order: int, vocab: int) -> NGram:
        """Counts of `sequences` (symbol ids, each ending with the end symbol)."""
        stream, targets = _pad(sequences, order)
        ids, keys_by_order = [stream], [np.arange(vocab)]
        for _ in range(2, order + 1):
            prev = np.concatenate([[0], ids[-1][:-1]])
            keys, dense = np.unique(prev * vocab + stream, return_inverse=True)
            keys_by_order.append(keys)
            ids.append(dense)
        starts_with_bos = [stream[targets - k + 1] == BOS for k in range(1, order + 1)]
        discounted, backoff = [], []
        for k in range(1, order + 1):
            gram = ids[k - 1][targets]
            size = len(keys_by_order[k - 1])
            raw = np.bincount(gram, minlength=size)
            if k == order:
                count = raw
            else:
                longer = np.unique(ids[k][targets])  # distinct (k+1)-grams ...
                suffix = np.zeros(len(keys_by_order[k]), np.int64)
                suffix[ids[k][targets]] = gram  # ... and the k-gram each one ends with
                count = np.bincount(suffix[longer], minlength=size)
                bos_grams = gram[starts_with_bos[k - 1]]
                count[bos_grams] = raw[bos_grams]
            context = keys_by_order[k - 1] // vocab
            n_contexts = len(keys_by_order[k - 2]) if k > 1 else 1
            seen = count > 0
            total = np.bincount(context[seen], count[seen], minlength=n_contexts)
            n123 = np.stack(
                [np.bincount(context, ((count == i) if i < 3 else (count >= 3)).astype(float),
                             minlength=n_contexts) for i in (1, 2, 3)],
                axis=1,
            )
            d = _discounts(count[seen])
            safe = np.maximum(total, 1e-12)
            discounted.append(np.maximum(count - d[np.minimum(count, 3)], 0.0) / safe[context])
            backoff.append(np.where(total > 0, n123 @ d[1:] / safe, 1.0))
        return cls(order, vocab, keys_by_order, discounted, backoff, np.full(order + 1, 0.5))

    @property
    def predictable(self) -> int:
        """Symbols that can follow a context: all but padding and the start symbol."""
        return self.vocab - 2

    def probs(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """P(symbol | context) of every symbol of `sequences` (end symbols included), in order,
        and the bucket of each: how many orders saw its context (1 to `order`)."""
        stream, targets = _pad(sequences, self.order)
        p = np.full(len(targets), 1.0 / self.predictable)
        bucket = np.zeros(len(targets), np.int64)
        prev_ids = np.zeros(0, np.int64)  # ids of order k-1 at every position, -1 unseen
        for k in range(1, self.order + 1):
            keys = self.keys[k - 1]
            if k == 1:
                ids, context = stream, np.zeros(len(targets), np.int64)
            else:
                prev = np.concatenate([[-1], prev_ids[:-1]])
                query = prev * self.vocab + stream
                at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
                ids = np.where((prev >= 0) & (keys[at] == query), at, -1)
                context = prev[targets]
            gram, known = ids[targets], context >= 0
            share = np.where(gram >= 0, self.discounted[k - 1][np.maximum(gram, 0)], 0.0)
            p = share + np.where(known, self.backoff[k - 1][np.maximum(context, 0)], 1.0) * p
            bucket += known
            prev_ids = ids
        return p, bucket

    def bpc(self, sequences: Sequence[Sequence[int]]) -> float:
        """Bits per symbol of the n-gram alone."""
        p, _ = self.probs(sequences)
        return float(-np.log2(p).mean()) if len(p) else 0.0

    def fit_weights(self, gru: np.ndarray, ngram: np.ndarray, bucket: np.ndarray) -> None:
        """Set the GRU's weight per bucket to maximise the mixture's likelihood of held-out
        symbols (their probabilities under each model): EM, sparse buckets shrunk to the
        overall weight."""
        count = np.bincount(bucket, minlength=self.order + 1).astype(np.float64)
        overall, weights = 0.5, np.full(self.order + 1, 0.5)
        for _ in range(100):
            share = weights[bucket] * gru
            posterior = share / np.maximum(share + (1.0 - weights[bucket]) * ngram, 1e-300)
            overall = float(posterior.mean())
            summed = np.bincount(bucket, posterior, minlength=self.order + 1)
            weights = (summed + PRIOR_WEIGHT * overall) / (count + PRIOR_WEIGHT)
        self.weights = np.clip(weights, 1e-3, 1.0 - 1e-3)

    def mix(self, gru: np.ndarray, ngram: np.ndarray, bucket: np.ndarray) -> np.ndarray:
        """The mixture's probabilities; `gru` and `ngram` may be rows of distributions with one
        bucket per row."""
        w = self.weights[bucket]
        if gru.ndim == 2:
            w = w[:, None]
        return w * gru + (1.0 - w) * ngram

    def save(self, path: Path) -> None:
        arrays = {"weights": self.weights, "meta": np.asarray([self.order, self.vocab])}
        for k in range(self.order):
            arrays |= {f"keys_{k}": self.keys[k], f"discounted_{k}": self.discounted[k],
                       f"backoff_{k}": self.backoff[k]}
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> NGram:
        with np.load(path) as data:
            order, vocab = (int(x) for x in data["meta"])
            return cls(
                order, vocab, [data[f"keys_{k}"] for k in range(order)],
                [data[f"discounted_{k}"] for k in range(order)],
                [data[f"backoff_{k}"] for k in range(order)], data["weights"],
            )


class NGramState:
    """The n-gram's next-symbol distributions for many rows at once, as generation advances.

    Orders 1 and 2 are one dense (previous symbol, next symbol) table. The higher orders'
    tables are concatenated into global arrays, so a step is a fixed handful of NumPy calls
    whatever the batch size: each row's contexts (one id per order, -1 unseen) pick contiguous
    ranges of n-grams, whose discounted shares are scattered into the row."""

    def __init__(self, model: NGram, rows: int) -> None:
        if model.order < 2:
            raise ValueError("the n-gram needs an order of at least 2")
        self.model, v = model, model.vocab
        uniform = np.full(v, 1.0 / model.predictable)
        uniform[[PAD, BOS]] = 0.0
        unigram = model.backoff[0][0] * uniform
        unigram[model.keys[0]] += model.discounted[0]
        self.bigram = model.backoff[1][:, None] * unigram  # (previous symbol, next symbol)
        self.bigram[model.keys[1] // v, model.keys[1] % v] += model.discounted[1]
        n_contexts = [1] + [len(keys) for keys in model.keys[:-1]]
        key_offset = np.cumsum([0] + [n * v for n in n_contexts[:-1]])
        self.key_offset = key_offset.astype(np.int64)
        self.keys = np.concatenate([k + off for k, off in zip(model.keys, key_offset)])
        self.symbol = (np.concatenate(model.keys) % v).astype(np.int64)
        self.discounted = np.concatenate(model.discounted)
        self.gram_start = np.cumsum([0] + [len(k) for k in model.keys[:-1]]).astype(np.int64)
        # Per order, context c's n-grams are keys[start[c]:start[c + 1]] (global positions).
        starts, backoffs = [], []
        for k, keys in enumerate(model.keys):
            bounds = np.arange(n_contexts[k] + 1, dtype=np.int64) * v
            starts.append(np.searchsorted(keys, bounds) + self.gram_start[k])
            backoffs.append(np.append(model.backoff[k], 1.0))
        context_offset = np.cumsum([0] + [n + 1 for n in n_contexts[:-1]]).astype(np.int64)
        self.high_offset = context_offset[2:]  # orders 3 and up
        self.start = np.concatenate(starts)
        self.backoff = np.concatenate(backoffs)
        self.row_offset = np.repeat(np.arange(rows) * v, model.order - 2)  # per (row, order)
        # Context ids per row and order (column k-1: the context of order k); the order-1
        # context is empty (id 0); at the start every context is all start symbols.
        self.context = np.full((rows, model.order), -1, np.int64)
        self.context[:, 0] = 0
        for _ in range(model.order - 1):
            self.advance(np.full(rows, BOS))

    def bucket(self) -> np.ndarray:
        """Per row: how many orders have seen its context."""
        return (self.context >= 0).sum(axis=1)

    def distribution(self) -> np.ndarray:
        """(rows, vocab) next-symbol probabilities."""
        context = self.context[:, 2:]
        seen = context >= 0
        at = self.high_offset + np.maximum(context, 0)
        lo = np.where(seen, self.start[at], 0)
        length = np.where(seen, self.start[at + 1], 0) - lo
        backoff = np.where(seen, self.backoff[at], 1.0)
        # Weight of order k's shares: the product of the back-off weights of the orders above.
        above = np.cumprod(backoff[:, ::-1], axis=1)[:, ::-1]
        weight = np.concatenate([above[:, 1:], np.ones((len(above), 1))], axis=1)
        length = length.ravel()
        ends = np.cumsum(length)
        picked = np.arange(ends[-1] if len(ends) else 0) + np.repeat(lo.ravel() - ends + length, length)
        values = self.discounted[picked] * np.repeat(weight.ravel(), length)
        flat = np.repeat(self.row_offset, length) + self.symbol[picked]
        high = np.bincount(flat, values, minlength=len(lo) * self.model.vocab)
        return high.reshape(len(lo), -1) + above[:, :1] * self.bigram[self.context[:, 1]]

    def advance(self, symbols: np.ndarray) -> None:
        """Append one symbol to every row's context."""
        context = self.context[:, :-1]  # contexts of orders 1..order-1 grow into 2..order
        query = self.key_offset[:-1] + np.maximum(context, 0) * self.model.vocab + symbols[:, None]
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        found = (context >= 0) & (self.keys[at] == query)
        self.context[:, 1:] = np.where(found, at - self.gram_start[:-1], -1)
        self.context[:, 0] = 0
