"""Campaign posts: making one, regenerating or editing a draft's text, and a person's review of it
(approve, reject, undo an approval, schedule it for a time)."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from bot import outbox
from bot.app import App
from bot.core import drawing
from bot.core.runtime import GeneratedTextLike, Generator, Runtime
from models.errors import NoServingModel
from storage.artifacts import atomic_write_bytes
from storage.base import utcnow
from storage.corpus import Persona
from storage.outbox import GeneratedItem, Post, PostStatus
from storage.reviews import DraftCandidate

log = logging.getLogger("nowbot.posts")
RECENT_POSTS = 20  # a new text repeats none of these
SKETCH_PAIR = "sketch_pair"  # a generated image item: "sketch -> drawing"
ReviewAction = Literal["approve", "reject", "regenerate"]
WHEN_HELP = ('an ISO time ("2026-12-03T09:30", UTC unless it gives an offset such as "+02:00") '
             'or a delay from now ("in 45m", "in 2h", "in 1d")')
_DELAY = re.compile(r"in\s+(\d{1,5})\s*([mhd])", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def make_campaign_post(runtime: Runtime, persona: str | None = None, *,
                       slot: str | None = None) -> Post:
    """Write a campaign post as `persona` (default: the campaign's), with a new image (and its
    description) when a GAN serves, delivered to each publishing platform; it waits for review
    when the settings say so. With a scheduled `slot`, a slot already written for returns its
    post: a job run again (a worker killed before it reported) writes no second one."""
    app, settings = runtime.app, runtime.app.settings
    persona = persona or settings.campaign_persona
    if slot is not None and (done := _slot_post(app, slot)) is not None:
        log.info("post %s was already prepared for %s", done.id, slot)
        return done
    generated = _new_text(app, runtime.generator, persona)
    image_id = None
    if runtime.image_set is not None:
        try:
            # A set whose sketch model serves shows a "sketch -> drawing" pair; others a GAN image.
            kind = SKETCH_PAIR if "sketch" in drawing.serving_modes(app, runtime.image_set) else "image"
            image_id = save_image(runtime, runtime.image_set, 1, kind=kind)
        except NoServingModel as error:
            log.info("campaign post without an image: %s", error)
    try:
        with app.sessions.begin() as session:
            item = _text_item(session, persona, generated)
            post = outbox.create_post(
                session, platforms=list(runtime.publishers),  # adapters add and remove theirs
                text=generated.text, hashtag=settings.campaign_hashtag, review=settings.reviewing,
                campaign=persona, generated_item_id=item.id, image_item_id=image_id,
                image_alt=_alt_text(session, image_id, persona), campaign_slot=slot,
            )
    except exc.IntegrityError:
        if slot is None or (done := _slot_post(app, slot)) is None:
            raise
        log.info("post %s was prepared for %s meanwhile", done.id, slot)
        return done
    waiting = "waiting for review" if settings.reviewing else "approved, publishing next"
    image = " with an image" if image_id is not None else ""
    where = ", ".join(d.platform for d in post.deliveries) or "no platform yet"
    log.info("post %s prepared as %s for %s%s, %s: %s", post.id, persona, where, image, waiting,
             post.text)
    return post


def _slot_post(app: App, slot: str) -> Post | None:
    with app.sessions() as session:
        return session.scalar(select(Post).where(Post.campaign_slot == slot))


def regenerate(app: App, generator: Generator, post_id: int, reviewer: str | None = None) -> Post:
    """Give a draft a freshly generated text in its persona's voice that repeats no recent post,
    recording which model version wrote it (and that `reviewer` did not want the old one)."""
    with app.sessions() as session:
        post = session.get(Post, post_id)
        if post is None:
            raise outbox.PostNotFound(post_id)
        persona = post.campaign or app.settings.campaign_persona
    generated = _new_text(app, generator, persona)
    with app.sessions.begin() as session:
        item_id = _text_item(session, persona, generated).id
    return outbox.replace_text(app.sessions, post_id, generated.text,
                               app.settings.campaign_hashtag, generated_item_id=item_id,
                               reviewer=reviewer)


def review(app: App, generator: Generator, post_id: int, action: ReviewAction,
           reviewer: str) -> Post:
    """A person's review of a draft: approve or reject it (stored with who and when), or have
    it regenerated."""
    if action == "approve":
        post = outbox.approve(app.sessions, post_id, reviewer=reviewer)
    elif action == "reject":
        post = outbox.reject(app.sessions, post_id, reviewer=reviewer)
    else:
        post = regenerate(app, generator, post_id, reviewer)
    log.info("post %s: %s by %s", post_id, action, reviewer)
    return post


def edit_text(app: App, post_id: int, text: str, editor: str, platform: str | None = None) -> Post:
    """Replace a draft's text with what `editor` wrote, on every platform or only on `platform`'s
    version, if it fits each (X counts its weighted length with links as 23, Bluesky grapheme
    clusters); stored as written, no hashtag added."""
    post = outbox.edit_text(app.sessions, post_id, text, editor=editor, platform=platform)
    log.info("post %s: text%s edited by %s", post_id, f" on {platform}" if platform else "", editor)
    return post


def edit_alt(app: App, post_id: int, alt: str, editor: str) -> Post:
    """Describe a draft's image as `editor` wrote it (every platform shows it to screen readers)."""
    post = outbox.edit_alt(app.sessions, post_id, alt, editor=editor)
    log.info("post %s: image description edited by %s", post_id, editor)
    return post


def unapprove(app: App, post_id: int, reviewer: str) -> Post:
    """Undo an approval that publishing has not yet taken up: the post is a draft again."""
    post = outbox.unapprove(app.sessions, post_id, reviewer=reviewer)
    log.info("post %s: approval undone by %s", post_id, reviewer)
    return post


def schedule(app: App, post_id: int, when: datetime, reviewer: str) -> Post:
    """Approve a draft, or re-time an approved post, to be published at `when` (a naive time is
    UTC); a time already past is refused."""
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if when <= utcnow():
        raise outbox.BadTime(f"{when:%Y-%m-%d %H:%M} UTC is in the past: give a later time")
    with app.sessions() as session:
        post = session.get(Post, post_id)
        status = post.status if post is not None else None
    if status == PostStatus.DRAFT:
        post = outbox.approve(app.sessions, post_id, reviewer=reviewer, publish_at=when)
    else:
        post = outbox.retime(app.sessions, post_id, when, reviewer=reviewer)
    log.info("post %s: scheduled for %s UTC by %s", post_id, f"{when.astimezone(UTC):%Y-%m-%d %H:%M}",
             reviewer)
    return post


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """The time `text` names, in UTC: `WHEN_HELP` says the forms. Raises `BadTime`."""
    text = text.strip()
    delay = _DELAY.fullmatch(text)
    if delay:
        amount, unit = int(delay.group(1)), delay.group(2).lower()
        return (now or utcnow()) + timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise outbox.BadTime(f"cannot read the time '{text[:40]}': give {WHEN_HELP}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def save_image(runtime: Runtime, image_set: str, count: int, kind: str) -> int:
    """Render `count` images of `image_set` as one PNG under the artifacts (a `SKETCH_PAIR`
    kind: a sketch of one of its photos beside the draw model's drawing); returns its item id."""
    app = runtime.app
    png = (drawing.sketch_pair(app, image_set) if kind == SKETCH_PAIR
           else runtime.generator.render_image_grid(app, image_set, count))
    path = app.artifacts_dir / "generated" / image_set / f"{kind}-{uuid.uuid4().hex[:12]}.png"
    atomic_write_bytes(path, png)
    with app.sessions.begin() as session:
        item = GeneratedItem(kind=kind, artifact_path=str(path),
                             details={"image_set": image_set, "count": count})
        session.add(item)
        session.flush()
        return item.id


def _alt_text(session: Session, image_id: int | None, persona: str) -> str | None:
    """A first description of a generated image, for a person to improve in review: what made it."""
    if image_id is None:
        return None
    item = session.get_one(GeneratedItem, image_id)
    image_set = item.details.get("image_set", "the campaign's images")
    if item.kind == SKETCH_PAIR:
        return f"A sketch of a photo from {image_set} beside the drawing the draw model made of it"
    return f"A picture generated in the style of {image_set}"


def _new_text(app: App, generator: Generator, persona: str) -> GeneratedTextLike:
    with app.sessions() as session:
        recent = list(session.scalars(select(Post.text).order_by(Post.id.desc()).limit(RECENT_POSTS)))
    return generator.generate_post_text(app, persona, recent)


def _text_item(session: Session, persona: str, generated: GeneratedTextLike) -> GeneratedItem:
    """The generated text as an item, with why it was chosen and the candidates it was chosen
    from (what the campaign's review model learns from)."""
    persona_id = session.scalar(select(Persona.id).where(Persona.name == persona))
    item = GeneratedItem(kind="text", model_version_id=generated.model_version_id,
                         persona_id=persona_id, text=generated.text, score=generated.score,
                         details={"why": generated.why} if generated.why else {})
    session.add(item)
    session.flush()
    session.add_all(DraftCandidate(generated_item_id=item.id, rank=c.rank, chosen=c.chosen,
                                   text=c.text, scores=c.scores) for c in generated.candidates)
    return item
