"""A persona's words: how well a candidate reads as the persona, beyond its mean character
likelihood (what the editor in `models/text/select.py` ranks by and the word guide steers by).

Two parts. `WordModel` counts word bigrams and trigrams of each persona's tweets (interpolated
absolute discounting over a unigram; tokens are lower-case words, hashtags, numbers and
punctuation marks, with tweet start and end): the ranking reads the bigram, the word guide
(`models/text/guide.py`) the trigram, so a candidate whose words follow each other as the persona's
do scores higher than one that strings plausible words into nonsense; it also knows how long
the persona's tweets run, so ranking does not favour the short candidates whose every character
is easy to predict. `defects` names what an editor would refuse outright: a tweet cut at the
character limit, one that starts in lower case or on a punctuation mark, one that ends on a
separator or on a word the persona never ends on ("the", "and": a fragment), unbalanced brackets
or quotes, a capital inside a word that the persona never wrote that way ("hemsWorth"; "SpaceX" is fine for the persona who writes it).

Stored with each version as `words.npz`: sorted 64-bit keys (a stable hash of persona and
tokens) with their counts, searched with one `searchsorted` per table for all candidates.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from corpora.cleaning import DANGLING

TOKEN = re.compile(r"[#@]?[\w'\u2019]+|[^\w\s]")
WORD = re.compile(r"[^\W\d_]+")
PARTIAL = re.compile(r"[#@\w'\u2019]+\Z")  # a token the prefix may still be writing
START, END = "<s>", "</s>"
SENTENCE_ENDS = frozenset([".", "!", "?", END])
DISCOUNT = 0.75
UNSEEN = 0.5  # pseudo-count of a token the persona never wrote
MIN_END_SHARE = 0.01  # a last word that ends fewer of the persona's uses than this: a fragment
PAIRS = ("()", "[]", "{}")
LENGTH_BUCKET, MAX_CHARS = 20, 280
LENGTH_KEY = "<length>"


def tokens(text: str) -> list[str]:
    """A tweet as the word model reads it: lower-case tokens between start and end."""
    return [START, *TOKEN.findall(text.lower()), END]


def prefix_tokens(prefix: str) -> list[str]:
    """The complete tokens of a tweet still being written: no end, and not a last word that
    may still be growing."""
    return tokens(PARTIAL.sub("", prefix))[:-1]


@lru_cache(maxsize=1 << 16)  # candidates share most of their tokens with earlier ones
def _key(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _keys(*columns: Sequence[str]) -> np.ndarray:
    return np.fromiter((_key(*row) for row in zip(*columns)), np.uint64, len(columns[0]))


def _table(counter: Counter[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.fromiter((_key(*k) for k in counter), np.uint64, len(counter))
    counts = np.fromiter(counter.values(), np.float64, len(counter))
    order = np.argsort(keys)
    return keys[order], counts[order]


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.zeros(len(query))
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0.0)


@dataclass
class WordModel:
    """Per persona: token counts, bigram counts, and per context its total and distinct
    followers; `totals[p]` = (tokens, distinct tokens) of persona p."""

    unigram: tuple[np.ndarray, np.ndarray]
    bigram: tuple[np.ndarray, np.ndarray]
    context: tuple[np.ndarray, np.ndarray]
    followers: tuple[np.ndarray, np.ndarray]
    ends: tuple[np.ndarray, np.ndarray]  # how often a token is the last before the end
    lengths: tuple[np.ndarray, np.ndarray]  # tweets per length bucket (LENGTH_BUCKET chars)
    cased: tuple[np.ndarray, np.ndarray]  # words with a capital after a small letter ("SpaceX")
    totals: dict[str, tuple[int, int]]

    @classmethod
    def fit(cls, tweets: Sequence[tuple[str, str]]) -> WordModel:
        """Counts of (persona, text) `tweets`."""
        unigram, bigram, context, followers, ends, lengths, cased = (Counter() for _ in range(7))
        for persona, text in tweets:
            lengths[persona, LENGTH_KEY, str(len(text) // LENGTH_BUCKET)] += 1
            for word in _mixed_case(text):
                cased[persona, word] += 1
            seq = tokens(text)
            for a, b in zip(seq, seq[1:]):
                unigram[persona, b] += 1
            # Pairs and triples share the n-gram tables: their keys hash different part counts.
            for n in (2, 3):
                for gram in zip(*(seq[i:] for i in range(n))):
                    if bigram[(persona, *gram)] == 0:
                        followers[(persona, *gram[:-1])] += 1
                    bigram[(persona, *gram)] += 1
                    context[(persona, *gram[:-1])] += 1
            ends[persona, seq[-2]] += 1
        totals: dict[str, list[int]] = {}
        for (persona, _), count in unigram.items():
            entry = totals.setdefault(persona, [0, 0])
            entry[0] += count
            entry[1] += 1
        return cls(
            _table(unigram), _table(bigram), _table(context), _table(followers), _table(ends),
            _table(lengths), _table(cased), {p: (n, v) for p, (n, v) in totals.items()},
        )

    def logprob(self, persona: str, texts: Sequence[str]) -> np.ndarray:
        """Mean natural log-probability per token (end included) of each of `texts`."""
        seqs = [tokens(text) for text in texts]
        prev = [a for seq in seqs for a in seq[:-1]]
        nxt = [b for seq in seqs for b in seq[1:]]
        logs = np.log(self._bigram(persona, prev, nxt))
        bounds = np.cumsum([0] + [len(seq) - 1 for seq in seqs])
        return np.asarray([logs[a:b].mean() for a, b in zip(bounds, bounds[1:])])

    def order_score(self, persona: str, texts: Sequence[str], *, ended: bool = True) -> np.ndarray:
        """How much each text's word order agrees with the persona's: the sum over its tokens
        of log P(token | two before) - log P(token), the trigram against the unigram (a
        pointwise mutual information). A word the persona never wrote, or never after those
        words, costs only the back-off shares of what came before, so names and rare words are
        not punished for being rare; pairs the persona writes earn their surprise. A
        sentence's end scores 0: the persona's chains run to its stock sign-offs, and steering
        by them ended tweets early (candidates 139 characters long on average against 174
        without, on a tuning corpus whose real tweets average 169). With
        `ended` False the texts are prefixes: the end is not scored, nor a last word that may
        still be growing."""
        seqs = [tokens(text) if ended else prefix_tokens(text) for text in texts]
        return self.order_terms(persona, seqs, np.ones(len(seqs), np.int64))

    def order_terms(self, persona: str, seqs: Sequence[Sequence[str]], start: np.ndarray
                    ) -> np.ndarray:
        """`order_score`'s sum over the tokens of each of `seqs` (from `tokens`) from
        position `start` on (0 is the tweet's start, never scored)."""
        spans = [range(max(int(s), 1), len(seq)) for seq, s in zip(seqs, start)]
        before = [seq[i - 2] if i > 1 else START for seq, span in zip(seqs, spans) for i in span]
        prev = [seq[i - 1] for seq, span in zip(seqs, spans) for i in span]
        nxt = [seq[i] for seq, span in zip(seqs, spans) for i in span]
        from models.text.compiled import word_order  # Numba, with the sampler

        who = [persona] * len(nxt)
        n, v = self.totals.get(persona, (0, 0))
        logs = np.empty(len(nxt))
        word_order(*self.unigram, *self.bigram, *self.context, *self.followers, _keys(who, nxt),
                   _keys(who, prev, nxt), _keys(who, prev), _keys(who, before, prev, nxt),
                   _keys(who, before, prev), float(n), float(v), UNSEEN, DISCOUNT, logs)
        logs[[token in SENTENCE_ENDS for token in nxt]] = 0.0
        bounds = np.cumsum([0] + [len(span) for span in spans])
        return np.add.reduceat(np.append(logs, 0.0), bounds[:-1]) * (np.diff(bounds) > 0)

    def _unigram(self, persona: str, nxt: list[str]) -> np.ndarray:
        n, v = self.totals.get(persona, (0, 0))
        found = _lookup(*self.unigram, _keys([persona] * len(nxt), nxt))
        return (found + UNSEEN) / (n + UNSEEN * (v + 1))

    def _bigram(self, persona: str, prev: list[str], nxt: list[str]) -> np.ndarray:
        """P(next | previous) for each pair: absolutely discounted, interpolated with the
        unigram; the unigram alone after a token never seen."""
        return self._extend(persona, [prev], nxt, self._unigram(persona, nxt))

    def _extend(self, persona: str, history: list[list[str]], nxt: list[str],
                lower: np.ndarray) -> np.ndarray:
        """P(next | history) for each position, absolutely discounted and interpolated with
        the lower order's `lower`; `lower` alone after a history never seen."""
        who = [persona] * len(nxt)
        gram = _lookup(*self.bigram, _keys(who, *history, nxt))
        context = _keys(who, *history)
        total, distinct = _lookup(*self.context, context), _lookup(*self.followers, context)
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        return np.where(
            seen, np.maximum(gram - DISCOUNT, 0.0) / safe + DISCOUNT * distinct / safe * lower,
            lower,
        )

    def length_logprob(self, persona: str, texts: Sequence[str]) -> np.ndarray:
        """Log-probability of each text's length among the persona's tweets (add-one over
        the length buckets)."""
        buckets = [str(len(t) // LENGTH_BUCKET) for t in texts]
        counts = self._length_counts(persona)
        found = _lookup(*self.lengths, _keys([persona] * len(texts), [LENGTH_KEY] * len(texts),
                                              buckets))
        return np.log((found + 1.0) / (counts.sum() + len(counts)))

    def usual_max_length(self, persona: str, share: float = 0.99) -> int:
        """Characters that `share` of the persona's tweets stay within (to a length bucket's
        end; `MAX_CHARS` for a persona with no tweets counted)."""
        counts = self._length_counts(persona)
        if not counts.sum():
            return MAX_CHARS
        bucket = int(np.searchsorted(np.cumsum(counts), share * counts.sum()))
        return min(MAX_CHARS, (bucket + 1) * LENGTH_BUCKET)

    def _length_counts(self, persona: str) -> np.ndarray:
        """The persona's tweets per length bucket, every bucket up to `MAX_CHARS`."""
        every = [str(b) for b in range(MAX_CHARS // LENGTH_BUCKET + 1)]
        return _lookup(*self.lengths, _keys([persona] * len(every), [LENGTH_KEY] * len(every),
                                            every))

    def writes_cased(self, persona: str, word: str) -> bool:
        """Whether the persona wrote `word` with these very capitals ("SpaceX", "iPhone")."""
        return bool(_lookup(*self.cased, _keys([persona], [word]))[0])

    def end_share(self, persona: str, word: str) -> float:
        """Share of the persona's uses of `word` that end a tweet (1.0 if it never wrote it)."""
        key = _keys([persona], [word.lower()])
        used = _lookup(*self.unigram, key)[0]
        return float(_lookup(*self.ends, key)[0] / used) if used else 1.0

    def save(self, path: Path) -> None:
        tables = {"unigram": self.unigram, "bigram": self.bigram, "context": self.context,
                  "followers": self.followers, "ends": self.ends, "lengths": self.lengths,
                  "cased": self.cased}
        arrays = {f"{name}_{part}": table[i] for name, table in tables.items()
                  for i, part in enumerate(("keys", "counts"))}
        names = list(self.totals)
        np.savez(path, **arrays, personas=np.asarray(names, dtype=str),
                 totals=np.asarray([self.totals[p] for p in names], np.int64).reshape(-1, 2))

    @classmethod
    def load(cls, path: Path) -> WordModel:
        with np.load(path) as data:
            table = {name: (data[f"{name}_keys"], data[f"{name}_counts"])
                     for name in ("unigram", "bigram", "context", "followers", "ends", "lengths",
                                  "cased")}
            totals = {str(p): (int(n), int(v)) for p, (n, v) in zip(data["personas"], data["totals"])}
        return cls(**table, totals=totals)


def defects(text: str, ended: bool, words: WordModel | None = None, persona: str = "") -> list[str]:
    """What an editor would refuse in `text`, by name (empty: well formed)."""
    found = []
    if not ended:
        found.append("cut at the length limit")
    first = text.lstrip("\"'(")[:1]
    if first.islower():
        found.append("lower-case start")
    elif first and not (first.isalnum() or first in "#@" or ord(first) > 0x2000):
        found.append("starts on punctuation")
    if DANGLING.search(text):
        found.append("dangling ending")
    elif words is not None:
        last = TOKEN.findall(text.lower())[-1:]
        if last and last[0][0].isalpha() and words.end_share(persona, last[0]) < MIN_END_SHARE:
            found.append("fragment")
    if any(text.count(a) != text.count(b) for a, b in PAIRS) or text.count('"') % 2:
        found.append("unbalanced brackets or quotes")
    if words is not None and any(not words.writes_cased(persona, w) for w in _mixed_case(text)):
        found.append("odd capitals inside a word")
    return found


def _mixed_case(text: str) -> list[str]:
    """The words of `text` with a capital after a small letter ("hemsWorth", "SpaceX")."""
    return [
        w for w in WORD.findall(text) if any(a.islower() and b.isupper() for a, b in zip(w, w[1:]))
    ]
