"""An interpolated (modified) Kneser-Ney character n-gram model in NumPy: the count-based
baseline of the text quality benchmark.

Each tweet is padded on the left with `order - 1` start symbols and ends with its end symbol,
the same symbols the GRU predicts. Order-k n-grams get dense ids from their (order k-1 prefix
id, last symbol) pairs, so every count is an array lookup. Highest order: raw counts; lower
orders: continuation counts (distinct left extensions), except n-grams opening with the start
symbol, which have no left context and keep raw counts. Three discounts per order (1, 2, 3+)
from the counts of counts, as in Chen & Goodman's modified Kneser-Ney; every order is
interpolated with the one below, down to uniform over the symbols that can be predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _pad(sequences: Sequence[Sequence[int]], order: int, bos: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated padded tweets and the positions of their real symbols (the targets)."""
    stream, targets, at = [], [], 0
    for ids in sequences:
        stream.append(np.full(order - 1, bos, np.int64))
        stream.append(np.asarray(ids, np.int64))
        targets.append(np.arange(at + order - 1, at + order - 1 + len(ids)))
        at += order - 1 + len(ids)
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
class _Order:
    keys: np.ndarray  # sorted (prefix id * vocab + symbol) of every n-gram seen; index = id
    count: np.ndarray  # adjusted count per n-gram id
    total: np.ndarray  # per context id: sum of adjusted counts
    n123: np.ndarray  # per context id: n-grams with count 1, 2, 3+ (3 columns)
    discount: np.ndarray  # D(0), D(1), D(2), D(3+)


class KneserNey:
    """Character n-gram model over symbol ids; `predictable` is the size of the output set."""

    def __init__(self, order: int, vocab_size: int, bos: int, predictable: int) -> None:
        self.order, self.vocab, self.bos, self.predictable = order, vocab_size, bos, predictable
        self.orders: list[_Order] = []

    def fit(self, sequences: Sequence[Sequence[int]]) -> KneserNey:
        stream, targets = _pad(sequences, self.order, self.bos)
        ids, keys_by_order = [stream], [np.arange(self.vocab)]
        for _ in range(2, self.order + 1):
            prev = np.concatenate([[0], ids[-1][:-1]])
            keys, dense = np.unique(prev * self.vocab + stream, return_inverse=True)
            keys_by_order.append(keys)
            ids.append(dense)
        starts_with_bos = [stream[targets - k + 1] == self.bos for k in range(1, self.order + 1)]
        self.orders = []
        for k in range(1, self.order + 1):
            gram = ids[k - 1][targets]
            size = len(keys_by_order[k - 1])
            raw = np.bincount(gram, minlength=size)
            if k == self.order:
                count = raw
            else:
                longer = np.unique(ids[k][targets])  # distinct (k+1)-grams ...
                suffix = np.zeros(len(keys_by_order[k]), np.int64)
                suffix[ids[k][targets]] = gram  # ... and the k-gram each one ends with
                count = np.bincount(suffix[longer], minlength=size)
                bos_grams = gram[starts_with_bos[k - 1]]
                count[bos_grams] = raw[bos_grams]
            context = np.zeros(size, np.int64)
            context[gram] = ids[k - 2][targets - 1] if k > 1 else 0
            seen = count > 0
            n_contexts = len(keys_by_order[k - 2]) if k > 1 else 1
            total = np.bincount(context[seen], count[seen], minlength=n_contexts)
            n123 = np.stack(
                [np.bincount(context[count == i] if i < 3 else context[count >= 3],
                             minlength=n_contexts) for i in (1, 2, 3)],
                axis=1,
            )
            self.orders.append(
                _Order(keys_by_order[k - 1], count, total, n123, _discounts(count[seen]))
            )
        return self

    def bits(self, sequences: Sequence[Sequence[int]]) -> tuple[float, int]:
        """Total bits to predict every symbol of `sequences` (end symbols included), and how
        many symbols that was."""
        stream, targets = _pad(sequences, self.order, self.bos)
        p = np.full(len(targets), 1.0 / self.predictable)
        prev_ids: np.ndarray | None = None  # ids of order k-1 at every position, -1 unseen
        for k, table in enumerate(self.orders, start=1):
            if k == 1:
                ids = stream.copy()
                context = np.zeros(len(targets), np.int64)
            else:
                assert prev_ids is not None
                prev = np.concatenate([[-1], prev_ids[:-1]])
                keys = prev * self.vocab + stream
                at = np.minimum(np.searchsorted(table.keys, keys), len(table.keys) - 1)
                ids = np.where((prev >= 0) & (table.keys[at] == keys), at, -1)
                context = prev[targets]
            gram = ids[targets]
            known = context >= 0
            total = np.where(known, table.total[np.maximum(context, 0)], 0.0)
            count = np.where(gram >= 0, table.count[np.maximum(gram, 0)], 0)
            discount = table.discount[np.minimum(count, 3)]
            n123 = table.n123[np.maximum(context, 0)]
            backoff = n123 @ table.discount[1:]
            safe = np.maximum(total, 1e-12)
            mixed = (np.maximum(count - discount, 0.0) + backoff * p) / safe
            p = np.where(total > 0, mixed, p)
            prev_ids = ids
        return float(-np.log2(p).sum()), len(targets)

    def bpc(self, sequences: Sequence[Sequence[int]]) -> float:
        bits, count = self.bits(sequences)
        return bits / max(count, 1)


def check_normalised(model: KneserNey, context: Sequence[int], symbols: Sequence[int]) -> float:
    """Sum of P(s | context) over `symbols` (1.0 when they are all the predictable symbols)."""
    total = 0.0
    for s in symbols:
        bits, _ = model.bits([[*context, s]])
        bits_ctx, _ = model.bits([list(context)]) if context else (0.0, 0)
        total += 2.0 ** -(bits - bits_ctx)
    return total

