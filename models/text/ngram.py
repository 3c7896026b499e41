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
from functools import cached_property
from pathlib import Path

import numpy as np

from models.text.vocab import BOS, PAD

MIN_DISCOUNT = 0.1
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
    """D(0..3): 0 for unseen, then D1, D2, D3+ from the counts of counts n1..n4 (the plain
    estimate Y where a count of counts is missing, as on a tiny or repetitive corpus). Never
    below MIN_DISCOUNT, so every context leaves some mass to the orders below: no symbol ever
    gets probability 0."""
    n = [np.count_nonzero(counts == i) for i in range(1, 5)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] and n[1] else 0.5
    ds = [0.0]
    for i in (1, 2, 3):
        d = i - (i + 1) * y * n[i] / n[i - 1] if n[i - 1] and n[i] else y
        ds.append(min(max(d, MIN_DISCOUNT), float(i)))
    return np.asarray(ds)


@dataclass
class NGram:
    """A fitted model over symbol ids 0..vocab-1; `weights[b]` is the GRU's share in the
    mixture at bucket b (1..order)."""

    order: int
    vocab: int
    keys: list[np.ndarray]  # per order: sorted (context id * vocab + symbol); index = n-gram id
    discounted: list[np.ndarray]  # per order and n-gram: its discounted share of its context
    backoff: list[np.ndarray]  # per order and context id: weight of the order below (float32)
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
            share = np.maximum(count - d[np.minimum(count, 3)], 0.0) / safe[context]
            discounted.append(share.astype(np.float32))
            backoff.append(np.where(total > 0, n123 @ d[1:] / safe, 1.0).astype(np.float32))
        return cls(order, vocab, keys_by_order, discounted, backoff, np.full(order + 1, 0.5))

    @cached_property
    def tables(self) -> SamplingTables:
        """This model laid out for generation (built on first use)."""
        return SamplingTables(self)

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
            weight = np.where(known, self.backoff[k - 1][np.maximum(context, 0)], 1.0)
            p = share.astype(np.float64) + weight.astype(np.float64) * p
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
        """The mixture's probabilities of symbols given each model's and their buckets."""
        w = self.weights[bucket]
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


class SamplingTables:
    """The fitted n-gram laid out for generation, built once per model.

    Orders 1 and 2 are one dense (previous symbol, next symbol) table. The higher orders'
    tables are concatenated into global arrays: per order, context c's n-grams are a contiguous
    range of positions `start[context_offset[order] + c]` onwards, sorted by symbol."""

    def __init__(self, model: NGram) -> None:
        if model.order < 2:
            raise ValueError("the n-gram needs an order of at least 2")
        v = model.vocab
        uniform = np.full(v, 1.0 / model.predictable)
        uniform[[PAD, BOS]] = 0.0
        unigram = model.backoff[0][0] * uniform
        unigram[model.keys[0]] += model.discounted[0]
        bigram = model.backoff[1][:, None] * unigram  # (previous symbol, next symbol)
        bigram[model.keys[1] // v, model.keys[1] % v] += model.discounted[1]
        self.bigram = bigram.astype(np.float32)
        n_contexts = [1] + [len(keys) for keys in model.keys[:-1]]
        self.symbol = (np.concatenate(model.keys) % v).astype(np.int64)
        self.discounted = np.concatenate(model.discounted)
        self.gram_start = np.cumsum([0] + [len(k) for k in model.keys[:-1]]).astype(np.int64)
        starts, backoffs = [], []
        for k, keys in enumerate(model.keys):
            bounds = np.arange(n_contexts[k] + 1, dtype=np.int64) * v
            starts.append(np.searchsorted(keys, bounds) + self.gram_start[k])
            backoffs.append(np.append(model.backoff[k], 1.0))
        self.context_offset = np.cumsum([0] + [n + 1 for n in n_contexts[:-1]]).astype(np.int64)
        self.start = np.concatenate(starts)
        self.backoff = np.concatenate(backoffs)


class NGramState:
    """The mixture's next-symbol distributions for many rows at once, as generation advances.

    Each row holds its context id per order (column k-1: order k; -1 unseen); the compiled step
    functions (`models/text/compiled.py`) read and advance them."""

    def __init__(self, model: NGram, rows: int) -> None:
        from models.text import compiled

        self.model, self.steps, self.tables = model, compiled, model.tables
        # The order-1 context is empty (id 0); a tweet starts after `order - 1` start symbols.
        self.context = np.full((rows, model.order), -1, np.int64)
        self.context[:, 0] = 0
        for _ in range(model.order - 1):
            self.advance(np.full(rows, BOS))

    def keep(self, rows: np.ndarray) -> None:
        """Drop the rows where `rows` is False (candidates that have ended)."""
        self.context = self.context[rows]

    def bucket(self) -> np.ndarray:
        """Per row: how many orders have seen its context."""
        return (self.context >= 0).sum(axis=1)

    def mix(self, gru: np.ndarray) -> np.ndarray:
        """(rows, vocab) probabilities of the mixture, given the GRU's (rows, vocab)."""
        return self._mixture(gru, self.model.weights)

    def distribution(self) -> np.ndarray:
        """(rows, vocab) probabilities of the n-gram alone."""
        none = np.zeros((len(self.context), self.model.vocab))
        return self._mixture(none, np.zeros_like(self.model.weights))

    def _mixture(self, gru: np.ndarray, weights: np.ndarray) -> np.ndarray:
        t, out = self.tables, np.empty_like(gru)
        self.steps.mixture(
            self.context, gru, weights, t.bigram, t.context_offset, t.start, t.backoff,
            t.symbol, t.discounted, out,
        )
        return out

    def advance(self, symbols: np.ndarray) -> None:
        """Append one symbol to every row's context."""
        t = self.tables
        self.steps.advance(
            self.context, np.asarray(symbols, np.int64), t.context_offset, t.start, t.symbol,
            t.gram_start,
        )
