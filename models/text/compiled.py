"""The sampler's inner loops compiled with Numba: the n-gram's step and the draw of the next
symbol, one call per step for every row instead of a dozen small NumPy calls whose overhead
would dominate a 280-character tweet.

Imported lazily by the sampler (so `nowbot --help` never loads Numba); compiled on first use and
cached next to this file. The n-gram's array layouts are described in `models/text/ngram.py`.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def mixture(
    context: np.ndarray, gru: np.ndarray, weights: np.ndarray, bigram: np.ndarray,
    context_offset: np.ndarray, start: np.ndarray, backoff: np.ndarray, symbol: np.ndarray,
    discounted: np.ndarray, out: np.ndarray,
) -> None:
    """out[r] = w * gru[r] + (1 - w) * P_ngram(. | row r's contexts), with w = weights[bucket]
    and bucket = how many orders have seen row r's context."""
    rows, order = context.shape
    vocab = out.shape[1]
    for r in range(rows):
        bucket = 0
        for k in range(order):
            if context[r, k] >= 0:
                bucket += 1
        w = weights[bucket]
        # Orders 1-2 come from the dense table, scaled by every higher order's back-off weight.
        scale = 1.0 - w
        for k in range(order - 1, 1, -1):
            c = context[r, k]
            if c >= 0:
                scale *= backoff[context_offset[k] + c]
        base, w32, scale32 = bigram[context[r, 1]], np.float32(w), np.float32(scale)
        for s in range(vocab):
            out[r, s] = w32 * gru[r, s] + scale32 * base[s]
        # Each higher order adds its discounted shares, weighted by the back-offs above it.
        scale = 1.0 - w
        for k in range(order - 1, 1, -1):
            c = context[r, k]
            if c < 0:
                continue
            at = context_offset[k] + c
            for g in range(start[at], start[at + 1]):
                out[r, symbol[g]] += scale * discounted[g]
            scale *= backoff[at]


@numba.njit(cache=True, nogil=True)
def advance(
    context: np.ndarray, symbols: np.ndarray, context_offset: np.ndarray, start: np.ndarray,
    symbol: np.ndarray, gram_start: np.ndarray,
) -> None:
    """Append symbols[r] to row r's contexts: the context of order k+1 becomes the k-gram
    (context of order k, symbol), found by binary search among that context's n-grams."""
    rows, order = context.shape
    for r in range(rows):
        s = symbols[r]
        for k in range(order - 1, 0, -1):  # highest first: reads column k-1 before it changes
            c = context[r, k - 1]
            found = -1
            if c >= 0:
                at = context_offset[k - 1] + c
                lo, hi = start[at], start[at + 1]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if symbol[mid] < s:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < start[at + 1] and symbol[lo] == s:
                    found = lo - gram_start[k - 1]
            context[r, k] = found
        context[r, 0] = 0


@numba.njit(cache=True, nogil=True)
def draw(weights: np.ndarray, allowed: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Per row, a symbol drawn with probability proportional to weights * allowed (inverse
    CDF with the row's uniform number)."""
    rows, vocab = weights.shape
    chosen = np.empty(rows, np.int64)
    for r in range(rows):
        total = 0.0
        for s in range(vocab):
            total += weights[r, s] * allowed[s]
        target, running, pick = uniform[r] * total, 0.0, -1
        for s in range(vocab):
            w = weights[r, s] * allowed[s]
            if w > 0.0:
                pick = s
                running += w
                if running >= target:
                    break
        chosen[r] = pick
    return chosen
