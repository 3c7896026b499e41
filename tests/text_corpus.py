"""A tiny synthetic two-persona corpus for the text model tests."""

from __future__ import annotations

import random

from bot.app import App
from corpora.ingest import get_or_create_persona, store_tweets
from corpora.records import RawTweet

WORDS = {
    "ada": "rockets mars engines orbit launch landing booster fuel 🚀".split(),
    "bob": "great deal people country again tremendous believe win".split(),
}


def tweets(persona: str, count: int = 60, seed: int = 0) -> list[str]:
    rng = random.Random(f"{persona}{seed}")
    return [
        " ".join(rng.choice(WORDS[persona]) for _ in range(rng.randint(3, 9))) + "!"
        for _ in range(count)
    ]


def store(app: App, counts: dict[str, int]) -> None:
    with app.sessions.begin() as session:
        for persona, count in counts.items():
            store_tweets(
                session, get_or_create_persona(session, persona),
                [RawTweet(text) for text in tweets(persona, count)],
            )
