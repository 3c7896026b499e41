"""A baseline the generated tweets should beat: markovify's word chain of the same training
tweets (state size 2, well-formed lines only, at most 280 characters, and no run of 6 words or
60% of a tweet from one training tweet). Needs `pip install markovify==0.9.4` (the `bench` extra).
"""

from __future__ import annotations

import random

from models.text.words import MAX_CHARS

SEED = 0


def markov_tweets(train: list[str], n: int, seed: int = SEED) -> list[str]:
    """`n` tweets of a word chain of `train` (fewer if it keeps failing its overlap guard)."""
    try:
        import markovify
    except ImportError as error:
        raise SystemExit("markovify is missing: pip install markovify==0.9.4") from error

    model = markovify.NewlineText(
        "\n".join(" ".join(t.split()) for t in train), state_size=2, well_formed=True
    )
    random.seed(seed)  # markovify draws from the module's generator
    tweets: list[str] = []
    for _ in range(10 * n):
        if len(tweets) == n:
            break
        text = model.make_short_sentence(
            MAX_CHARS, tries=200, max_overlap_ratio=0.6, max_overlap_total=6
        )
        if text:
            tweets.append(text)
    return tweets
