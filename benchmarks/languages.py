"""Tweets that mix two languages, by wordfreq's word frequencies in a few European languages.

A word is of another language than the persona's when some language uses it at least 100 times
as often (2 on wordfreq's Zipf scale) and the persona's language uses it less than once per
100,000 words (Zipf 4): "die", "also", "la" or "son" are English words too and never count;
"und", "nicht", "que" or "gracias" in an English tweet do. Names are left out (a capitalised
word not opening a sentence), and so are hashtags, mentions and words of one letter. A tweet is
mixed when at least `MIN_WORDS` of its words are of another language than the persona's (so a
whole tweet in another language counts too). German text holds many English words at Zipf 4-5,
so English words would go unseen in a German persona's tweets: the rule is made for the
benchmark's English personas.
"""

from __future__ import annotations

import math
from functools import cache

import regex
from wordfreq import get_frequency_dict

LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "nl")
MIN_WORDS = 2
# Zipf: log10 of a word's count per billion words
KNOWN, HOME, MARGIN, OWN_AT_MOST = 3.0, 1.0, 2.0, 4.0
WORD = regex.compile(r"(?<![#@\w'’])(\p{L}+(?:['’]\p{L}+)*)")
OPENER = regex.compile(r"(?:^|[.!?:\"“…]\s*|\n)$")


@cache
def _frequencies(language: str) -> dict[str, float]:
    return get_frequency_dict(language, "best")


def zipf(word: str, language: str) -> float:
    """Zipf frequency of a lower-case word in `language` (0 when wordfreq has not seen it)."""
    share = _frequencies(language).get(word, 0.0)
    return math.log10(share * 1e9) if share else 0.0


def words(text: str) -> list[str]:
    """The lower-cased words of a tweet that are not names, hashtags or mentions."""
    found = []
    for match in WORD.finditer(text):
        word = match.group(1)
        name = word[0].isupper() and not word.isupper()
        if len(word) > 1 and (not name or OPENER.search(text[: match.start()])):
            found.append(word.lower().replace("’", "'"))
    return found


def scores(text: str) -> dict[str, dict[str, float]]:
    """Each word's Zipf frequency in every language."""
    return {w: {lang: zipf(w, lang) for lang in LANGUAGES} for w in words(text)}


def language(found: dict[str, dict[str, float]]) -> str:
    """The language most of the words are at home in: the languages that use a word within 10
    times as often as the one using it most (none where no language uses it once per million
    words); English on a tie."""
    tops = {w: max(s.values()) for w, s in found.items()}
    return max(LANGUAGES, key=lambda lang: sum(  # max keeps the first of a tie
        s[lang] >= tops[w] - HOME for w, s in found.items() if tops[w] >= KNOWN
    ))


def foreign(found: dict[str, dict[str, float]], own: str) -> list[str]:
    """The words of another language than `own`."""
    return [
        w for w, s in found.items() if s[own] < OWN_AT_MOST and max(s.values()) >= s[own] + MARGIN
    ]


def main_language(texts: list[str]) -> str:
    """The language most of `texts` are in (the persona's, given its tweets)."""
    languages = [language(scores(t)) for t in texts]
    return max(LANGUAGES, key=languages.count)


def mixed(texts: list[str], own: str = "en", detail: bool = False) -> dict:
    """Share of tweets with words of another language than the persona's (`own`); tweets by
    their own language; `detail`: each tweet's foreign words."""
    found = [scores(t) for t in texts]
    languages = [language(f) for f in found]
    odd = [foreign(f, own) for f in found]
    result: dict = {
        "mixed_language_share": (
            sum(len(o) >= MIN_WORDS for o in odd) / len(texts) if texts else 0.0
        ),
        "languages": {lang: languages.count(lang) for lang in sorted(set(languages))},
    }
    if detail:
        result["tweets"] = [
            {"text": t, "language": lang, "foreign": o} for t, lang, o in zip(texts, languages, odd)
        ]
    return result
