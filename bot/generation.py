"""What the service asks of the models: texts and images from the serving versions.

Every caller (scheduler jobs, Discord, dashboard, CLI) goes through these functions, so loading,
caching and candidate selection live in one place. They are blocking; async callers run them in a
thread (`asyncio.to_thread`). Text generation is NumPy only; image generation imports TensorFlow
on its first call (the generator is cached per version afterwards).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.app import App
from bot.core.reviewing import SCORE_NAMES, approving
from models.registry import Registry
from storage.registry import ModelKind, ModelVersion

if TYPE_CHECKING:  # NumPy and Numba load with the first generation, not with the bot
    from models.text.sampler import Sampler
    from models.text.select import Editor, Rules


KEPT_CANDIDATES = 16  # of a campaign draft's candidates: the best, and the rest sampled


@dataclass(frozen=True)
class ScoredText:
    """One of the candidates a post's text was chosen from: its rank, text and editor's scores."""

    rank: int
    text: str
    scores: dict[str, float]
    chosen: bool = False


@dataclass(frozen=True)
class GeneratedText:
    """A generated post with the model's mean per-character log-likelihood as `score`; a
    campaign post also has `why` it was chosen (its scores, their ranks among the candidates,
    the review model's say) and a sample of its `candidates`."""

    text: str
    score: float
    model_version_id: int
    why: dict[str, Any] = field(default_factory=dict)
    candidates: tuple[ScoredText, ...] = ()


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


def generate_post_text(app: App, persona: str, recent: list[str], *,
                       seed: int | None = None) -> GeneratedText:
    """One campaign post for `persona`, not repeating any of `recent`, picked from the
    campaign's larger number of candidates by the editor and, once the campaign's reviewers
    have taught it, its review model (`bot.core.reviewing`)."""
    import numpy as np

    from models.text.writing import write_draft

    version, sampler, editor = serving_generator(app, persona)
    rules = tweet_rules(app, candidates=app.settings.text_candidates_post)
    review = approving(app, persona)
    if review is not None:
        rules = replace(rules, approval=review.model, approval_weight=review.weight)
    draft = write_draft(sampler, editor, persona, rules=rules, recent=tuple(recent), seed=seed)
    ranked, chosen, at, count = draft.ranked, draft.chosen, draft.index, len(draft.ranked.samples)
    scores = {name: float(values[at]) for name, values in ranked.scores.items()}
    ranks = {name: 1 + int((values > values[at]).sum()) for name, values in ranked.scores.items()
             if name in SCORE_NAMES}
    why: dict[str, Any] = {"candidates": count, "scores": scores, "ranks": ranks}
    if review is not None:
        why.update(review_version=review.version, weight=review.weight)
    kept = sorted({at, *range(min(count, KEPT_CANDIDATES // 2)),
                   *np.linspace(0, count - 1, KEPT_CANDIDATES // 2).astype(int).tolist()})
    candidates = tuple(
        ScoredText(i, ranked.samples[i].text,
                   {name: float(values[i]) for name, values in ranked.scores.items()}, i == at)
        for i in kept)
    return GeneratedText(chosen.text, chosen.mean_logprob, version.id, why, candidates)


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
