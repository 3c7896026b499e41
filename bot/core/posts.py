"""Campaign posts: making one, regenerating a draft's text, and a person's review of it."""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import outbox
from bot.app import App
from bot.core.runtime import GeneratedTextLike, Generator, Runtime
from models.errors import NoServingModel
from storage.artifacts import atomic_write_bytes
from storage.corpus import Persona
from storage.outbox import GeneratedItem, Post

log = logging.getLogger("nowbot.posts")
RECENT_POSTS = 20  # a new text repeats none of these
ReviewAction = Literal["approve", "reject", "regenerate"]


def make_campaign_post(runtime: Runtime) -> list[Post]:
    """Write a campaign post (with a new image when a GAN serves) for each publishing platform;
    it waits for review when the settings say so."""
    app, settings = runtime.app, runtime.app.settings
    generated = _new_text(app, runtime.generator)
    image_id = None
    if runtime.image_set is not None:
        try:
            image_id = save_image(runtime, runtime.image_set, 1, kind="image")
        except NoServingModel as error:
            log.info("campaign post without an image: %s", error)
    with app.sessions.begin() as session:
        item = _text_item(session, settings.campaign_persona, generated)
        return [
            outbox.create_post(session, platform=platform, text=generated.text,
                               hashtag=settings.campaign_hashtag, review=settings.reviewing,
                               campaign=settings.campaign_persona, generated_item_id=item.id,
                               image_item_id=image_id)
            for platform in list(runtime.publishers)  # adapters add and remove theirs
        ]


def regenerate(app: App, generator: Generator, post_id: int) -> Post:
    """Give a draft a freshly generated text that repeats no recent post, recording which model
    version wrote it."""
    generated = _new_text(app, generator)
    with app.sessions.begin() as session:
        item_id = _text_item(session, app.settings.campaign_persona, generated).id
    return outbox.replace_text(app.sessions, post_id, generated.text,
                               app.settings.campaign_hashtag, generated_item_id=item_id)


def review(app: App, generator: Generator, post_id: int, action: ReviewAction,
           reviewer: str) -> Post:
    """A person's review of a draft: approve or reject it (stored with who and when), or have
    it regenerated."""
    if action == "approve":
        post = outbox.approve(app.sessions, post_id, reviewer=reviewer)
    elif action == "reject":
        post = outbox.reject(app.sessions, post_id, reviewer=reviewer)
    else:
        post = regenerate(app, generator, post_id)
    log.info("post %s: %s by %s", post_id, action, reviewer)
    return post


def save_image(runtime: Runtime, image_set: str, count: int, kind: str) -> int:
    """Render `count` images of `image_set` as one PNG under the artifacts; returns its item id."""
    app = runtime.app
    png = runtime.generator.render_image_grid(app, image_set, count)
    path = app.artifacts_dir / "generated" / image_set / f"{kind}-{uuid.uuid4().hex[:12]}.png"
    atomic_write_bytes(path, png)
    with app.sessions.begin() as session:
        item = GeneratedItem(kind=kind, artifact_path=str(path),
                             details={"image_set": image_set, "count": count})
        session.add(item)
        session.flush()
        return item.id


def _new_text(app: App, generator: Generator) -> GeneratedTextLike:
    with app.sessions() as session:
        recent = list(session.scalars(select(Post.text).order_by(Post.id.desc()).limit(RECENT_POSTS)))
    return generator.generate_post_text(app, app.settings.campaign_persona, recent)


def _text_item(session: Session, persona: str, generated: GeneratedTextLike) -> GeneratedItem:
    persona_id = session.scalar(select(Persona.id).where(Persona.name == persona))
    item = GeneratedItem(kind="text", model_version_id=generated.model_version_id,
                         persona_id=persona_id, text=generated.text, score=generated.score, details={})
    session.add(item)
    session.flush()
    return item
