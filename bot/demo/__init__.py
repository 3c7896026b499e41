"""The built-in demo: a computer-graphics conference campaign persona and an image set, so a fresh
install has something to learn from and post about without any configuration or download.

`siggraph.txt` holds posts written for this project (no third-party text), one per line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy import func, select

from bot.app import App
from corpora.imagesets import BUILTIN_DIGITS, import_images
from corpora.ingest import get_or_create_persona, store_tweets
from corpora.records import RawTweet
from storage.corpus import Persona
from storage.imagesets import ImageSet

log = logging.getLogger("nowbot.demo")
DEMO_PERSONA = "siggraph"
DEMO_IMAGE_SET = "digits"
DEMO_DIGITS = 2000


@dataclass(frozen=True)
class DemoSeed:
    """What seeding added (zeros when the database already had data)."""

    posts: int
    images: int


def demo_posts() -> list[str]:
    """The demo persona's corpus."""
    text = files(__package__).joinpath("siggraph.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def seed_demo(app: App, digits: int | None = None) -> DemoSeed:
    """Seed the demo persona on a database with no personas, and the demo image set on one with
    no image sets. Each part is one transaction, so a second call adds nothing."""
    posts = images = 0
    with app.sessions.begin() as session:
        if not session.scalar(select(func.count(Persona.id))):
            persona = get_or_create_persona(session, DEMO_PERSONA)
            persona.display_name = "Graphics conference campaign (demo)"
            records = [RawTweet(text=line, place=f"line {n}") for n, line in enumerate(demo_posts(), 1)]
            posts = store_tweets(session, persona, records).added
    with app.sessions.begin() as session:
        if not session.scalar(select(func.count(ImageSet.id))):
            images = import_images(session, app.artifacts_dir, DEMO_IMAGE_SET, BUILTIN_DIGITS,
                                   digits=digits or DEMO_DIGITS).added
    if posts or images:
        log.info("seeded the demo: persona %s (%d posts), image set %s (%d images)",
                 DEMO_PERSONA, posts, DEMO_IMAGE_SET, images)
    return DemoSeed(posts=posts, images=images)

