"""Choosing what to post: of the candidates that copy no training tweet, mix no two languages,
repeat no recent post and pass the mention, link and blocklist filters, the ones an editor would
pick first (`Editor.rank`: well formed, then likely as characters and as the persona's words).

Copies are found with hashed shingles: every `copy_chars`-character window of every training
tweet (for tweets too short for that, windows of `copy_fraction` of their length, never under
`min_copy_chars`) goes into one sorted array of 64-bit hashes, built once per version and saved
with it. A candidate is checked by hashing its own windows of the same lengths (one vector
operation per length, from prefix sums) and one binary search: well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from corpora.cleaning import normalize, strip_links, strip_mentions
from models.errors import ModelError
from models.text.guide import Guide, mixed_words
from models.text.lexicon import split_words
from models.text.sampler import MAX_CHARS, Sample
from models.text.words import WordModel, defects

MIN_WRITTEN = 40  # characters a candidate may always write after its prompt
OPENING_WORDS = 3  # a campaign post may not open with the same words as a recent one
_BASE = 1_000_003
_BASE_INV = pow(_BASE, -1, 2**64)  # odd, so invertible modulo 2**64


class Approval(Protocol):
    """What ranks candidates by their reviewers' taste (`models.review.model.ReviewModel`)."""

    def approval(self, texts: Sequence[str]) -> np.ndarray:
        """The chance each of `texts` is approved, as far as its words and form tell."""
        ...


@dataclass(frozen=True)
class Rules:
    """What a candidate must pass. Mentions and links are removed (not rejected) unless allowed."""

    blocklist: tuple[str, ...] = ()
    allow_mentions: bool = False
    allow_links: bool = False
    min_chars: int = 10  # after removals
    candidates: int = 16  # sampled per request (at least the number of tweets asked for)
    real_words: bool = True  # write only the persona's words and its language's
    editor: bool = True  # rank by form and words (False: ended first, then characters alone)
    # Weights measured on the benchmark corpora (benchmarks/text_fidelity.py): a higher word
    # weight favours short stock phrases, a lower length weight the short candidates whose
    # every character is easy; both made the tweets easier to tell from real ones.
    word_weight: float = 0.1  # of the word model's score in the editor's ranking
    length_weight: float = 2.0  # of how usual the candidate's length is for the persona
    guide: float = 1.5  # weight of the word guide while sampling (0: unguided; chosen on two
    # corpora: 1.5 and 2 wrote the fewest unlinked words, 2.5 fewer whole sentences)
    thin: int = 0  # halve each tweet's candidates as they write, down to this many (0: never)
    # A campaign's review model (`models/review`): its log chance of approval, times
    # `approval_weight`, joins the editor's score. None (or weight 0): ranking unchanged.
    approval: Approval | None = field(default=None, compare=False)
    approval_weight: float = 0.0


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + 1


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64."""
    factors = np.full(n, base, dtype=np.uint64)
    factors[:1] = 1
    return np.cumprod(factors, dtype=np.uint64)


class _Windows:
    """Hashes of every window of one text: sum of code[i + j] * BASE**j modulo 2**64, from
    prefix sums, so each window length costs one vector operation."""

    def __init__(self, codes: np.ndarray) -> None:
        sums = np.cumsum(codes * _powers(_BASE, len(codes)), dtype=np.uint64)
        self.prefix = np.concatenate([np.zeros(1, np.uint64), sums])
        self.unshift = _powers(_BASE_INV, len(codes))

    def hashes(self, length: int) -> np.ndarray:
        count = len(self.unshift) - length + 1
        if count <= 0:
            return np.empty(0, np.uint64)
        return (self.prefix[length:] - self.prefix[:count]) * self.unshift[:count]


class CopyIndex:
    """Hashed shingles of a set of texts, to tell whether a new text copies a long run of one."""

    def __init__(self, hashes: np.ndarray, lengths: np.ndarray) -> None:
        self.hashes, self.lengths = hashes, lengths

    @staticmethod
    def run_length(
        n: int, copy_chars: int = 40, copy_fraction: float = 0.6, min_copy_chars: int = 12
    ) -> int:
        """Shortest copied run that counts for a source text of `n` characters."""
        return max(min_copy_chars, min(copy_chars, math.ceil(copy_fraction * n)))

    @classmethod
    def build(cls, texts: Iterable[str], **rule: float) -> CopyIndex:
        by_length: dict[int, list[str]] = {}
        for text in texts:
            length = cls.run_length(len(text), **rule)  # type: ignore[arg-type]
            if len(text) >= length:
                by_length.setdefault(length, []).append(text)
        parts = []
        for length, group in by_length.items():
            codes = _codes("\0".join(group))  # separators: windows across texts are dropped
            hashes = _Windows(codes).hashes(length)
            seps = np.concatenate([[0], np.cumsum(codes == 1)])
            parts.append(hashes[seps[length:] - seps[: len(hashes)] == 0])
        hashes = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
        return cls(hashes, np.asarray(sorted(by_length), np.int64))

    def copies(self, text: str) -> bool:
        """True when `text` contains a run long enough to count as a copy of an indexed text."""
        if not len(self.hashes):
            return False
        windows = _Windows(_codes(text))
        found = np.sort(np.concatenate(  # sorted queries: a cache-friendly binary search
            [np.empty(0, np.uint64)] + [windows.hashes(int(length)) for length in self.lengths]
        ))
        at = np.minimum(np.searchsorted(self.hashes, found), len(self.hashes) - 1)
        return bool((self.hashes[at] == found).any())

    def save(self, path: Path) -> None:
        np.savez(path, hashes=self.hashes, lengths=self.lengths)

    @classmethod
    def load(cls, path: Path) -> CopyIndex:
        with np.load(path) as data:
            return cls(data["hashes"], data["lengths"])


@dataclass(frozen=True)
class Editor:
    """What a version knows for judging candidates: its training tweets' shingles and, for
    versions that have one, the word model of its personas (`models/text/words.py`)."""

    copies: CopyIndex
    words: WordModel | None = None
    guide: Guide | None = None  # word order and languages, while sampling and when ranking

    def length_limit(self, personas: Sequence[str], prompt: str = "") -> int:
        """The most characters worth sampling for `personas`: the length 99% of their tweets
        stay within (a longer candidate is ranked down by its unusual length, or cut at the
        limit anyway), and at least `MIN_WRITTEN` past the prompt."""
        usual = MAX_CHARS
        if self.words is not None:
            usual = max((self.words.usual_max_length(p) for p in personas), default=MAX_CHARS)
        return min(MAX_CHARS, max(usual, len(prompt) + MIN_WRITTEN))

    def mixes_languages(self, text: str, persona: str) -> bool:
        """Whether `text` mixes two of the persona's languages (for a persona who writes in
        more than one)."""
        languages = self.guide.languages(persona) if self.guide is not None else ()
        return len(languages) > 1 and mixed_words(text, languages) > 0

    def scores(self, samples: Sequence[Sample], persona: str, rules: Rules
               ) -> dict[str, np.ndarray]:
        """The editor's scores of `samples`, by name: "fluency" (mean character
        log-likelihood), "words" (the persona's word model's mean log-probability per token)
        and "length" (log-probability of its length) where a word model is, "approval" (the
        review model's chance) where `rules` has one, "flaws" (defects) and "total": fluency
        plus `rules.word_weight` times words, `rules.length_weight` times length and
        `rules.approval_weight` times the log of approval."""
        texts = [s.text for s in samples]
        found = {"fluency": np.asarray([s.mean_logprob for s in samples], dtype=float)}
        total = found["fluency"].copy()
        if self.words is not None and samples:
            found["words"] = self.words.logprob(persona, texts)
            found["length"] = self.words.length_logprob(persona, texts)
            total += rules.word_weight * found["words"]
            total += rules.length_weight * found["length"]
        if rules.approval is not None and rules.approval_weight and samples:
            found["approval"] = rules.approval.approval(texts)
            total += rules.approval_weight * np.log(np.clip(found["approval"], 1e-6, 1.0))
        found["flaws"] = np.asarray(
            [len(defects(s.text, s.ended, self.words, persona)) for s in samples], dtype=float)
        found["total"] = total
        return found

    def rank(self, samples: Sequence[Sample], persona: str, rules: Rules) -> list[Sample]:
        """`samples` best first: fewest defects, then the highest total score (`scores`)."""
        return [samples[i] for i in self.order(samples, persona, rules)[0]]

    def order(self, samples: Sequence[Sample], persona: str, rules: Rules
              ) -> tuple[list[int], dict[str, np.ndarray]]:
        """The indices of `samples` best first (`rank`), and their `scores` (empty without
        the editor: ended first, then characters alone)."""
        if not rules.editor:
            return sorted(range(len(samples)), key=lambda i: (not samples[i].ended,
                                                              -samples[i].mean_logprob)), {}
        found = self.scores(samples, persona, rules)
        flaws, total = found["flaws"], found["total"]
        return sorted(range(len(samples)), key=lambda i: (flaws[i], -total[i])), found


def _opening(text: str) -> tuple[str, ...]:
    """The first `OPENING_WORDS` words of `text`, case-folded (empty for a shorter text)."""
    words = split_words(text)[:OPENING_WORDS]
    return tuple(words) if len(words) == OPENING_WORDS else ()


def _clean(text: str, rules: Rules) -> str:
    if not rules.allow_links:
        text = strip_links(text)
    if not rules.allow_mentions:
        text = strip_mentions(text)
    return normalize(text)


@dataclass(frozen=True)
class Ranked:
    """Candidates as the editor ranked them, best first (links and mentions removed unless
    allowed), with its scores of each in the same order (`Editor.scores`)."""

    samples: list[Sample]
    scores: dict[str, np.ndarray]


def choose(
    samples: Sequence[Sample], editor: Editor, rules: Rules, recent: Sequence[str] = (),
    persona: str = "", limit: int | None = None, openings: Sequence[str] = (),
) -> tuple[list[Sample], Counter[str], Ranked]:
    """The acceptable samples, best first (`Editor.rank`), why the others were not, and all
    of them ranked with their scores. With
    `limit`, the checks stop at the best `limit` acceptable ones (ranked first, checked in that
    order: the copy checks are most of choosing's time). A sample that opens with the same
    `OPENING_WORDS` words as one of `openings` (a campaign's recent posts) is refused too: the
    word guide favours a persona's stock openings, and a feed of them reads as a template."""
    blocked = (
        re.compile(r"\b(?:" + "|".join(map(re.escape, rules.blocklist)) + r")\b", re.IGNORECASE)
        if rules.blocklist else None
    )
    recent_index = CopyIndex.build(recent)
    recent_texts = {" ".join(text.casefold().split()) for text in recent}
    used_openings = {_opening(text) for text in openings} - {()}
    cleaned = [replace(sample, text=_clean(sample.text, rules)) for sample in samples]
    order, scores = editor.order(cleaned, persona, rules)
    ranked = Ranked([cleaned[i] for i in order], {k: v[order] for k, v in scores.items()})
    accepted, rejected = [], Counter[str]()
    for sample in ranked.samples:
        text = sample.text
        if len(text) < rules.min_chars:
            rejected["too short"] += 1
        elif blocked is not None and blocked.search(text):
            rejected["blocked word"] += 1
        elif editor.copies.copies(text):
            rejected["copies a training tweet"] += 1
        elif editor.mixes_languages(text, persona):
            rejected["mixes two languages"] += 1
        elif text.casefold() in recent_texts or recent_index.copies(text):
            rejected["repeats a recent post"] += 1
        elif _opening(text) in used_openings:
            rejected["opens as a recent post does"] += 1
        else:
            accepted.append(sample)
            if len(accepted) == limit:
                break
    return accepted, rejected, ranked
