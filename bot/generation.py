"""What the service asks of the models: texts and images from the serving versions.

Every caller (scheduler jobs, Discord, dashboard, CLI) goes through these functions, so loading,
caching and candidate selection live in one place. They are blocking; async callers run them in a
thread (`asyncio.to_thread`). Text generation is NumPy only; image generation imports TensorFlow
on its first call (the generator is cached per version afterwards).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.app import App
from models.registry import Registry
from storage.registry import ModelKind, ModelVersion

if TYPE_CHECKING:  # NumPy and Numba load with the first generation, not with the bot
    from models.text.sampler import Sampler
    from models.text.select import Editor, Rules


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
    mix: float = 0.5,
    recent: tuple[str, ...] = (),
    candidates: int | None = None,
    block: tuple[str, ...] = (),
    real_words: bool | None = None,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
) -> list[GeneratedText]:
    """`count` tweets for `persona` (optionally blended with `blend_with`, `mix` of it), each
    the best of `candidates` of its own. Defaults come from the settings: the chat's number of
    candidates, the blocklist (`block` adds words to it) and whether only real words are written."""
    from models.text.writing import write

    version, sampler, editor = serving_generator(app, persona, blend_with)
    rules = tweet_rules(app, candidates=candidates, block=block, real_words=real_words)
    samples = write(
        sampler, editor, persona, count, rules=rules, recent=recent, prompt=prompt,
        temperature=temperature, blend=blend_with, mix=mix, top_k=top_k, top_p=top_p, seed=seed,
    )
    return [GeneratedText(s.text, s.mean_logprob, version.id) for s in samples]


def serving_generator(app: App, persona: str, blend_with: str | None = None
                      ) -> tuple[ModelVersion, Sampler, Editor]:
    """The serving text version that speaks as `persona` (and `blend_with`), with its sampler
    and editor (loaded once per version)."""
    from models.text.serving import load_generator, serving_version

    personas = (persona, blend_with) if blend_with else (persona,)
    registry = Registry(app.sessions, app.artifacts_dir)
    version = serving_version(registry, *personas)
    return (version, *load_generator(registry.local_path(version)))


def tweet_rules(app: App, *, candidates: int | None = None, block: tuple[str, ...] = (),
                real_words: bool | None = None) -> Rules:
    """What a tweet must pass, from the settings: the chat's number of candidates unless
    `candidates` says otherwise, the blocklist plus `block`, and whether only real words are
    written unless `real_words` says."""
    from models.text.select import Rules

    settings = app.settings
    return Rules(
        blocklist=settings.text_blocklist + tuple(block),
        real_words=settings.text_real_words if real_words is None else real_words,
        candidates=candidates or settings.text_candidates_chat,
    )


def generate_post_text(app: App, persona: str, recent: list[str]) -> GeneratedText:
    """One campaign post for `persona`, not repeating any of `recent` (picked from the
    campaign's larger number of candidates)."""
    candidates = app.settings.text_candidates_post
    return generate_tweets(app, persona, recent=tuple(recent), candidates=candidates)[0]


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
