"""What a review model sees of a draft: its words and form (length, questions, calls to action,
hashtags, mentions, numbers, exclamations) and the editor's scores of it (fluency as characters,
likelihood as the persona's words, how usual its length is), each a named number."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from wordfreq import zipf_frequency

WORD = re.compile(r"[#@]?\w[\w'’]*", re.UNICODE)
COMMON_ZIPF = 5.5  # words at least this frequent in English ("the", "and", "we") teach nothing
# Verbs that open a call to action ("Join us", "Don't miss", "Sign up", "Tell us").
ACTION_VERBS = frozenset(
    "join come visit check watch read share tell register follow see learn find grab bring "
    "sign stop tune meet explore discover try get don't dont vote apply submit help ask "
    "celebrate catch reply rt retweet download subscribe".split()
)
# The editor's scores a model may use, by their names in `Editor.scores`, with a scale that
# brings each to about one unit (character log-likelihoods are ~1 nat apart, word ones ~10).
SCORES = {"fluency": 1.0, "words": 0.1, "length": 0.2}
SCORE_FEATURES = ("fluency", "words", "length_usual")  # their features' names
NAMES = {  # a numeric feature's name in words, for `ReviewModel.describe`
    "length": "longer drafts",
    "question": "questions",
    "action": "calls to action",
    "hashtags": "hashtags",
    "mentions": "mentions",
    "numbers": "numbers",
    "exclamation": "exclamations",
    "fluency": "smoother sentences",
    "words": "the persona's usual wording",
    "length_usual": "the persona's usual length",
}
WORD_PREFIX = "word:"


@cache
def _telling(word: str) -> bool:
    return zipf_frequency(word.lstrip("#@"), "en") < COMMON_ZIPF


def words(text: str) -> list[str]:
    """The draft's words (hashtags and mentions included), lower case."""
    return [w.casefold() for w in WORD.findall(text)]


def features(text: str, scores: Mapping[str, float] | None = None) -> dict[str, float]:
    """The named features of one draft; `scores` are the editor's (missing ones left out)."""
    found = words(text)
    named: dict[str, float] = {f"{WORD_PREFIX}{w}": 1.0 for w in set(found) if _telling(w)}
    named.update({
        "length": len(text) / 100,
        "question": float("?" in text),
        "action": float(bool(found) and found[0].lstrip("#@") in ACTION_VERBS),
        "hashtags": float(sum(w.startswith("#") for w in found)),
        "mentions": float(sum(w.startswith("@") for w in found)),
        "numbers": float(any(c.isdigit() for c in text)),
        "exclamation": float("!" in text),
    })
    for (name, scale), feature in zip(SCORES.items(), SCORE_FEATURES):
        if (value := (scores or {}).get(name)) is not None:
            named[feature] = float(value) * scale
    return named


def in_words(name: str) -> str:
    """A feature's name as a reviewer would say it: a word in quotes, or what the form means."""
    if name.startswith(WORD_PREFIX):
        return f'"{name[len(WORD_PREFIX):]}"'
    return NAMES[name]
