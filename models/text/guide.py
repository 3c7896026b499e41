"""Steering sampling by words while a tweet is written: the persona's word order, one language.

A char model alone strings real words into nonsense: it sees a few characters back and little
English. So as candidates write, each one is weighed by how well its completed words follow one
another as the persona's do (`WordModel.order_terms`: its word trigram against its unigram, so a
rare name is not punished for being rare, only an odd sequence for being odd), and the batch
resamples its rows by those weights (`models/text/batch.py`: sequential Monte Carlo, as a
particle filter does, in islands of 16 rows).
Rows that write the persona's word sequences multiply; rows that write salad die out; the char
model still writes every letter, so prompts, voices, blends and originality stay.

General English word order weighs in too, where the persona writes English: a word trigram that
ships inside the `pocketsphinx` package (72,547 lower-case words; `EnglishOrder`), scored the
same way (trigram against unigram, per word), its history reset at a word it does not know (a
name, a hashtag, a number) and at a sentence's end. The persona's few thousand tweets know its
phrases; the trigram knows how English joins them.

For a persona who writes in more than one language, a row's language is settled by its first
words: from then on only that language's general words may be written, and every word of the
persona's own that belongs to another language costs `MIXED_PENALTY`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from models.text.lexicon import LANGUAGE_BIT, LANGUAGES, Lexicon, split_words, tweet_language
from models.text.words import SENTENCE_ENDS, WordModel, prefix_tokens, tokens

MIXED_PENALTY = 4.0  # log-weight per word of a second language in one tweet
COMMON_WORDS = 2000  # a language's commonest words: what tells which language a tweet is in
ENGLISH_WEIGHT = 1.0  # of general English's word-order score against the persona's (0.5 and
# 1.5 wrote no better on the tuning corpora)
_LN_BASE = math.log(1.0001)  # pocketsphinx's log base
_UNKNOWN = -(1 << 28)  # what pocketsphinx returns for a word it does not know (about)
_ALL_LANGUAGES = sum(1 << (LANGUAGE_BIT + i) for i in range(len(LANGUAGES)))


@lru_cache(maxsize=None)
def common_words(lang: str) -> frozenset[str]:
    """The commonest words of `lang` (wordfreq's own data, no download)."""
    from wordfreq import top_n_list

    return frozenset(top_n_list(lang, COMMON_WORDS))


class Guide:
    """Word-level weights of candidate prefixes for one version: its word model and, for
    personas of several languages, its word tree's language bits."""

    def __init__(self, words: WordModel, lexicon: Lexicon | None = None,
                 english: float = ENGLISH_WEIGHT) -> None:
        self.words, self.lexicon, self.english = words, lexicon, english

    def scores(self, persona: str, texts: Sequence[str], ended: bool = False) -> np.ndarray:
        """Each text's word-order score, less `MIXED_PENALTY` per word of a language other
        than its own (texts still being written unless `ended`)."""
        seqs = [tokens(t) if ended else prefix_tokens(t) for t in texts]
        return (self.terms(persona, seqs, np.ones(len(seqs), np.int64))
                - MIXED_PENALTY * self.mixed(persona, texts))

    def terms(self, persona: str, seqs: Sequence[Sequence[str]], start: np.ndarray) -> np.ndarray:
        """The word-order score of each token sequence (`tokens`) from position `start` on:
        the persona's (`WordModel.order_terms`) plus `english` times general English's
        (`EnglishOrder.terms`) for a persona who writes English."""
        score = self.words.order_terms(persona, seqs, start)
        if self.english and "en" in (self.languages(persona) or ("en",)):
            trigram = english_order()
            english = [trigram.terms(seq, int(i)) for seq, i in zip(seqs, start)]
            score += self.english * np.asarray(english)
        return score

    def mixed(self, persona: str, texts: Sequence[str]) -> np.ndarray:
        """Per text, its words of a second language (0 for a persona of one language)."""
        languages = self.languages(persona)
        if len(languages) < 2:
            return np.zeros(len(texts))
        return np.asarray([mixed_words(t, languages) for t in texts], np.float64)

    def languages(self, persona: str) -> tuple[str, ...]:
        """The languages `persona` writes in, as its word tree knows them."""
        if self.lexicon is None or persona not in self.lexicon.personas:
            return ()
        bits = int(self.lexicon.persona_bits[self.lexicon.personas.index(persona)])
        return tuple(lang for i, lang in enumerate(LANGUAGES) if bits >> (LANGUAGE_BIT + i) & 1)

    def settle_language(self, persona: str, texts: Sequence[str], bits: np.ndarray) -> np.ndarray:
        """`bits` (each row's word lists) with a row's other languages' general words removed
        once its words tell its language."""
        languages = self.languages(persona)
        if len(languages) < 2:
            return bits
        lists = {lang: common_words(lang) for lang in languages}
        out = bits.copy()
        for row, text in enumerate(texts):
            lang = tweet_language(split_words(text), lists)
            if lang is not None:
                keep = (1 << (LANGUAGE_BIT + LANGUAGES.index(lang))) | ~_ALL_LANGUAGES
                out[row] = int(bits[row]) & keep & ((1 << 64) - 1)
        return out


def mixed_words(text: str, languages: Sequence[str]) -> int:
    """Words of `text` that are common in one of `languages` but not in the tweet's own
    (the language most of its words are common in): 0 for a tweet in one language."""
    words = split_words(text)
    lists = {lang: common_words(lang) for lang in languages}
    own = tweet_language(words, lists)
    if own is None:
        return 0
    return sum(
        1 for w in words
        if w not in lists[own] and any(w in lists[lang] for lang in languages if lang != own)
    )


class EnglishOrder:
    """General English word order from the trigram that ships inside `pocketsphinx`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._unigrams: dict[str, float] = {}

    def terms(self, seq: Sequence[str], start: int = 1) -> float:
        """Sum over the tokens of `seq` (from `tokens`) from position `start` on of
        log P(word | the two before) - log P(word), sentence ends included: a word the trigram
        does not know (a name, a hashtag, a number) scores 0 and starts the history afresh;
        other punctuation is passed over."""
        history = self._history(seq, max(start, 1))
        total = 0.0
        for token in seq[max(start, 1):]:
            word = _english(token)
            if word is None or (word == "</s>" and history == ["<s>"]):
                continue
            unigram = self._unigram(word)
            if unigram <= _UNKNOWN:
                history = []
                continue
            if history:
                total += (self.model.prob([word, *history[::-1]]) - unigram) * _LN_BASE
            history = ["<s>"] if word == "</s>" else [*history[-1:], word]
        return total

    def _history(self, seq: Sequence[str], start: int) -> list[str]:
        """The trigram's history before position `start`, read backwards: the last two known
        words, back to a sentence's start ("<s>") or to a word it does not know."""
        words: list[str] = []
        for token in reversed(seq[1:start]):
            word = _english(token)
            if word is None:
                continue
            if word == "</s>":
                break
            if self._unigram(word) <= _UNKNOWN:
                return words
            words.insert(0, word)
            if len(words) == 2:
                return words
        return ["<s>", *words][-2:]

    def _unigram(self, word: str) -> float:
        found = self._unigrams.get(word)
        if found is None:
            found = self._unigrams[word] = self.model.prob([word])
        return found


def _english(token: str) -> str | None:
    """A token as the trigram reads it: a word, a sentence's end, or None (punctuation)."""
    if token in SENTENCE_ENDS:
        return "</s>"
    return token.replace("\u2019", "'") if token[0].isalnum() else None


@lru_cache(maxsize=1)
def english_order() -> EnglishOrder:
    """The general English trigram (27 MB, read in about 0.1 s), loaded once."""
    from pocketsphinx import NGramModel, get_model_path

    path = Path(get_model_path()) / "en-us" / "en-us.lm.bin"
    return EnglishOrder(NGramModel.readfile(str(path)))
