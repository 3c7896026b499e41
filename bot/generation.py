"""What the service asks of the models: texts and images from the serving versions.

Every caller (scheduler jobs, Discord, dashboard, CLI) goes through these functions, so loading,
caching and candidate selection live in one place. They are blocking; async callers run them in a
thread (`asyncio.to_thread`). Text generation is NumPy only; image generation imports TensorFlow
on its first call (the generator is cached per version afterwards).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.app import App
from models.registry import Registry
from storage.registry import ModelKind, ModelVersion


@dataclass(frozen=True)
class GeneratedText:
    """A generated post with the model's mean per-character log-likelihood as `score`."""

    text: str
    score: float
    model_version_id: int


def _version_id(app: App, folder: Path) -> int:
    with app.sessions() as session:
        return session.scalars(
            select(ModelVersion.id).where(ModelVersion.artifact_path == str(folder))
        ).one()


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
    from models.text.select import Rules, write_tweets
    from models.text.serving import load_generator, serving_path

    personas = (persona, blend_with) if blend_with else (persona,)
    folder = serving_path(Registry(app.sessions, app.artifacts_dir), *personas)
    sampler, index = load_generator(folder)
    rules = Rules(blocklist=app.settings.text_blocklist)
    samples = write_tweets(
        sampler, index, persona, count, rules=rules, recent=recent,
        prompt=prompt, temperature=temperature, blend=blend_with,
    )
    version_id = _version_id(app, folder)
    return [GeneratedText(s.text, s.mean_logprob, version_id) for s in samples]


def generate_post_text(app: App, persona: str, recent: list[str]) -> GeneratedText:
    """One campaign post for `persona`, not repeating any of `recent`."""
    return generate_tweets(app, persona, recent=tuple(recent))[0]


def render_image_grid(app: App, image_set: str, count: int) -> bytes:
    """A PNG grid of `count` new images from the serving GAN of `image_set`."""
    from models.gan.sample import sample_grid

    folder = Registry(app.sessions, app.artifacts_dir).serving_path(ModelKind.GAN, image_set)
    buffer = io.BytesIO()
    sample_grid(folder, count).save(buffer, format="PNG")
    return buffer.getvalue()


def progress_gif(app: App, image_set: str) -> bytes:
    """The animated GIF of how the fixed-seed grid evolved while `image_set`'s GAN trained."""
    from models.gan.sample import progress_gif as stored_progress_gif

    folder = Registry(app.sessions, app.artifacts_dir).serving_path(ModelKind.GAN, image_set)
    return stored_progress_gif(folder)
