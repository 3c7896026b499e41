"""The sampler's inner loops compiled with Numba: the n-gram's step, the word constraint and
the draw of the next symbol, one call per step for every row instead of a dozen small NumPy calls whose overhead
would dominate a 280-character tweet.

Imported lazily by the sampler (so `nowbot --help` never loads Numba); compiled on first use and
cached next to this file. The n-gram's array layouts are described in `models/text/ngram.py`.
"""

from __future__ import annotations

import numba
import numpy as np

from models.text.lexicon import APOSTROPHE, DIGIT, FREE, LETTER, OUTSIDE, ROOT, SUFFIX_ROOT, TAG


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
    CDF with the row's uniform number); `allowed` is (rows, vocab)."""
    rows, vocab = weights.shape
    chosen = np.empty(rows, np.int64)
    for r in range(rows):
        total = 0.0
        for s in range(vocab):
            total += weights[r, s] * allowed[r, s]
        target, running, pick = uniform[r] * total, 0.0, -1
        for s in range(vocab):
            w = weights[r, s] * allowed[r, s]
            if w > 0.0:
                pick = s
                running += w
                if running >= target:
                    break
        chosen[r] = pick
    return chosen


@numba.njit(cache=True, nogil=True)
def word_mask(
    node: np.ndarray, bits: np.ndarray, base: np.ndarray, classes: np.ndarray,
    child_start: np.ndarray, child_symbol: np.ndarray, child_node: np.ndarray,
    terminal: np.ndarray, reach: np.ndarray, out: np.ndarray,
) -> None:
    """out[r] = base[r] where row r may write each symbol next: inside a word only the letters
    that continue one of its persona's words (bits[r]), and a word's end only where one ends;
    between words only letters that start one; anything inside a free token (#tag, 4pm)."""
    rows, vocab = out.shape
    for r in range(rows):
        n = node[r]
        if n == FREE:
            for s in range(vocab):
                out[r, s] = base[r, s]
            continue
        ends = n == OUTSIDE or (terminal[n] & bits[r]) != 0
        for s in range(vocab):
            c = classes[s]
            if c == LETTER or (c == APOSTROPHE and n != OUTSIDE):
                out[r, s] = base[r, s] if c == APOSTROPHE and ends else 0.0  # ' : suffix or quote
            else:
                out[r, s] = base[r, s] if ends else 0.0
        parent = ROOT if n == OUTSIDE else n
        for e in range(child_start[parent], child_start[parent + 1]):
            if reach[child_node[e]] & bits[r]:
                out[r, child_symbol[e]] = base[r, child_symbol[e]]


@numba.njit(cache=True, nogil=True)
def word_advance(
    node: np.ndarray, chosen: np.ndarray, classes: np.ndarray, child_start: np.ndarray,
    child_symbol: np.ndarray, child_node: np.ndarray,
) -> None:
    """Move each row's word state past its chosen symbol."""
    for r in range(len(node)):
        s, n = chosen[r], node[r]
        c = classes[s]
        if c == LETTER or c == APOSTROPHE:
            if n == FREE:
                continue
            parent = ROOT if n == OUTSIDE else n
            found = -1
            for e in range(child_start[parent], child_start[parent + 1]):
                if child_symbol[e] == s:
                    found = child_node[e]
                    break
            if found >= 0:
                node[r] = found
            elif c == APOSTROPHE:
                node[r] = SUFFIX_ROOT if n >= 0 else OUTSIDE
            else:  # a letter no word continues with (typed in a prompt): free to the word's end
                node[r] = FREE
        elif c == DIGIT or c == TAG:
            node[r] = FREE
        else:
            node[r] = OUTSIDE


@numba.njit(cache=True, nogil=True)
def _count(keys: np.ndarray, counts: np.ndarray, key: np.uint64) -> float:
    """The count stored under `key` in a sorted table (0 when absent)."""
    at = np.searchsorted(keys, key)
    return counts[at] if at < len(keys) and keys[at] == key else 0.0


@numba.njit(cache=True, nogil=True)
def word_order(
    unigram_keys: np.ndarray, unigram_counts: np.ndarray, gram_keys: np.ndarray,
    gram_counts: np.ndarray, context_keys: np.ndarray, context_counts: np.ndarray,
    followers_keys: np.ndarray, followers_counts: np.ndarray, token: np.ndarray,
    pair: np.ndarray, pair_context: np.ndarray, triple: np.ndarray, triple_context: np.ndarray,
    tokens: float, distinct: float, unseen: float, discount: float, out: np.ndarray,
) -> None:
    """out[i] = log P(token | two before) - log P(token) for each position i, from the word
    model's tables (`models/text/words.py`: absolute discounting interpolated down to the
    unigram); the query arrays hold each position's hashed keys."""
    for i in range(len(token)):
        uni = (_count(unigram_keys, unigram_counts, token[i]) + unseen) / (
            tokens + unseen * (distinct + 1.0))
        prob = uni
        for gram, context in ((pair[i], pair_context[i]), (triple[i], triple_context[i])):
            total = _count(context_keys, context_counts, context)
            if total > 0.0:
                seen = _count(gram_keys, gram_counts, gram)
                followers = _count(followers_keys, followers_counts, context)
                prob = max(seen - discount, 0.0) / total + discount * followers / total * prob
        out[i] = np.log(prob) - np.log(uni)
