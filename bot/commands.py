"""The bot's commands, written once for every chat adapter (Discord today).

Each function is blocking (database and model work): adapters call it off their event loop and
render the neutral `Reply` it returns. Bad input raises `CommandError` with a short message fit to
show the user as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from bot import generation
from bot.app import App
from bot.core import drawing, posts, training
from bot.core.posts import ReviewAction
from bot.core.schedule import next_runs
from bot.errors import NowbotError
from models.registry import Registry
from storage.corpus import Persona
from storage.imagesets import ImageSet
from storage.outbox import Post, PostStatus
from storage.registry import ModelVersion, VersionStatus

TEMPERATURE = (0.1, 2.0)
IMAGE_COUNT = (1, 64)
PROMPT_CHARS = 100
TrainKind = Literal["text", "gan"]


class CommandError(NowbotError):
    """A command was given input it cannot use; the message tells the user what to change."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    """What a command answers: text, files, whether only the caller sees it, and the posts
    (by id) the reply offers review actions for."""

    text: str
    attachments: tuple[Attachment, ...] = ()
    ephemeral: bool = False
    review_post_ids: tuple[int, ...] = ()


# -- lookups ---------------------------------------------------------------------------------

def personas(app: App, typed: str = "", limit: int | None = None) -> list[str]:
    """Persona names containing `typed` (at most `limit`), for autocomplete and checks."""
    return _names(app, Persona.name, typed, limit)


def image_sets(app: App, typed: str = "", limit: int | None = None) -> list[str]:
    """Image set names containing `typed` (at most `limit`), for autocomplete and checks."""
    return _names(app, ImageSet.name, typed, limit)


def _names(app: App, column: object, typed: str, limit: int | None) -> list[str]:
    query = select(column).order_by(column).limit(limit)  # type: ignore[call-overload]
    if typed:
        query = query.where(column.contains(typed.strip(), autoescape=True))  # type: ignore[attr-defined]
    with app.sessions() as session:
        return list(session.scalars(query))


def _known(app: App, what: str, name: str | None, names: list[str]) -> str:
    """`name` if it exists, the first one when omitted; else a `CommandError` listing some."""
    if name is None:
        if not names:
            raise CommandError(f"there is no {what} yet: import one first")
        return names[0]
    if name not in names:
        hint = ", ".join(names[:5]) or "none yet"
        raise CommandError(f"unknown {what} '{name[:40]}' (try: {hint})")
    return name


def _in_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise CommandError(f"{name} must be between {low:g} and {high:g}, not {value:g}")


# -- generation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TweetRequest:
    """A checked request for one generated tweet; equal requests may share one generation call."""

    persona: str
    prompt: str = ""
    temperature: float = 0.8
    blend_with: str | None = None


def tweet_request(
    app: App, persona: str | None = None, prompt: str = "", temperature: float = 0.8
) -> TweetRequest:
    """Check a `/tweet`: the persona exists (default: the first), temperature and prompt fit."""
    name = _known(app, "persona", persona, personas(app))
    _in_range("temperature", temperature, TEMPERATURE)
    if len(prompt) > PROMPT_CHARS:
        raise CommandError(f"prompt must be at most {PROMPT_CHARS} characters, not {len(prompt)}")
    return TweetRequest(name, prompt, temperature)


def mashup_request(app: App, persona_a: str, persona_b: str) -> TweetRequest:
    """Check a `/mashup`: two different, existing personas."""
    names = personas(app)
    first, second = _known(app, "persona", persona_a, names), _known(app, "persona", persona_b, names)
    if first == second:
        raise CommandError("pick two different personas to mash up")
    return TweetRequest(first, blend_with=second)


def image(app: App, image_set: str | None = None, count: int = 16) -> Reply:
    """A PNG grid of `count` new images from `image_set`'s GAN."""
    name = _known(app, "image set", image_set, image_sets(app))
    _in_range("count", count, IMAGE_COUNT)
    png = generation.render_image_grid(app, name, count)
    return Reply(f"{count} new images from **{name}**", (Attachment(f"{name}.png", png),))


def progress(app: App, image_set: str | None = None) -> Reply:
    """The animated GIF of `image_set`'s GAN learning to draw."""
    name = _known(app, "image set", image_set, image_sets(app))
    gif = generation.progress_gif(app, name)
    return Reply(f"How **{name}** learned to draw", (Attachment(f"{name}-progress.gif", gif),))


def draw(app: App, image_set: str | None, data: bytes, mode: str = "sketch") -> Reply:
    """The drawing in `data` as `image_set`'s draw model read it, beside what it made (by
    default the first set whose draw model serves in `mode`)."""
    name = image_set or drawing.default_set(app, drawing.check_mode(mode))
    png = drawing.draw(app, name, data, mode)
    return Reply(f"Your drawing, drawn by **{name}** ({mode})", (Attachment(f"{name}-drawing.png", png),))


# -- service state ---------------------------------------------------------------------------

def status(app: App) -> Reply:
    """Serving model versions with their metrics, training runs, and the next scheduled jobs."""
    registry = Registry(app.sessions, app.artifacts_dir)
    lines = ["**Serving models**"]
    serving = [v for v in registry.versions() if v.status == VersionStatus.SERVING]
    lines += [f"- {v.kind} `{v.target}` v{v.version}: {_metrics(v)}" for v in serving] or ["- none yet"]
    lines += [f"- training {r.kind} `{r.target}`: {r.status}" for r in training.active_runs(app)]
    lines.append("**Next scheduled**")
    lines += _next(app) or ["- nothing"]
    return Reply("\n".join(lines), ephemeral=True)


def _metrics(version: ModelVersion) -> str:
    shown = [f"{k} {v:.4g}" for k, v in version.metrics.items() if isinstance(v, int | float)]
    return ", ".join(shown[:4]) or "no metrics"


def _next(app: App, limit: int = 5, label: str = "") -> list[str]:
    jobs = [job for job in next_runs(app) if job.next_run is not None][:limit]
    return [f"- {label}{job.id} at {job.next_run:%Y-%m-%d %H:%M} UTC" for job in jobs]


def queue(app: App, page: int = 5) -> Reply:
    """The `page` oldest posts waiting for review, each offered for approve, reject or
    regenerate."""
    with app.sessions() as session:
        drafts = session.scalars(
            select(Post).where(Post.status == PostStatus.DRAFT).order_by(Post.id).limit(page)
        ).all()
    if not drafts:
        return Reply("No posts are waiting for review.", ephemeral=True)
    lines = [f"**{len(drafts)} post(s) waiting for review**"]
    lines += [f"`#{p.id}` ({', '.join(d.platform for d in p.deliveries) or 'no platform'}) {p.text}"
              for p in drafts]
    return Reply("\n".join(lines), ephemeral=True, review_post_ids=tuple(p.id for p in drafts))


def review(app: App, post_id: int, action: ReviewAction, reviewer: str) -> Reply:
    """Approve, reject or regenerate a draft post; `reviewer` is stored with an approval or a
    rejection, and logged."""
    if action not in ("approve", "reject", "regenerate"):
        raise CommandError(f"unknown review action '{action}'")
    post = posts.review(app, generation, post_id, action, reviewer)
    verb = {"approve": "approved", "reject": "rejected", "regenerate": "regenerated"}[action]
    return Reply(f"Post `#{post_id}` {verb} by {reviewer}: {post.text}", ephemeral=True)


# -- admin -----------------------------------------------------------------------------------

def train(app: App, kind: TrainKind, target: str, requested_by: str) -> Reply:
    """Ask for a training run of `kind` on `target`; the service's `train-requests` job runs it
    after any training already going on (`bot.core.training`)."""
    if kind == "text":
        target = _known(app, "persona", target, personas(app))
    elif kind == "gan":
        target = _known(app, "image set", target, image_sets(app))
    else:
        raise CommandError(f"unknown model kind '{kind}' (try: text, gan)")
    run_id = training.request_training(app, kind, target, requested_by)
    return Reply(f"Training run `#{run_id}` requested: {kind} on `{target}`.", ephemeral=True)


def schedule(app: App) -> Reply:
    """The campaign's cron expressions and the next scheduled runs."""
    lines = ["**Campaign schedule** (`NOWBOT_CAMPAIGN_CRON`)"]
    lines += [f"- `{cron}`" for cron in app.settings.campaign_crons]
    lines += _next(app, label="next: ")
    return Reply("\n".join(lines), ephemeral=True)
