"""What the service asks of the models: texts and images from the serving versions.

Every caller (scheduler jobs, Discord, dashboard, CLI) goes through these functions, so loading,
caching and candidate selection live in one place. They are blocking; async callers run them in a
thread (`asyncio.to_thread`). Until the model packages land they raise `NoServingModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.app import App
from models.errors import NoServingModel


@dataclass(frozen=True)
class GeneratedText:
    """A generated post with the model's mean per-character log-likelihood as `score`."""

    text: str
    score: float
    model_version_id: int


def generate_tweets(
    app: App,
    persona: str,
    *,
    prompt: str = "",
    temperature: float = 0.8,
    count: int = 1,
    blend_with: str | None = None,
    recent: tuple[str, ...] = (),
) -> list[GeneratedText]:
    """Best `count` candidate tweets for `persona` (optionally blended 50/50 with `blend_with`)."""
    raise NoServingModel(f"no serving text model for '{persona}' yet: train one first")


def generate_post_text(app: App, persona: str, recent: list[str]) -> GeneratedText:
    """One campaign post for `persona`, not repeating any of `recent`."""
    return generate_tweets(app, persona, recent=tuple(recent))[0]


def render_image_grid(app: App, image_set: str, count: int) -> bytes:
    """A PNG grid of `count` new images from the serving GAN of `image_set`."""
    raise NoServingModel(f"no serving image model for '{image_set}' yet: train one first")


def progress_gif(app: App, image_set: str) -> bytes:
    """The animated GIF of how the fixed-seed grid evolved while `image_set`'s GAN trained."""
    raise NoServingModel(f"no training progress for '{image_set}' yet: train one first")
