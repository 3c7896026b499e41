"""Deleting a persona's corpus or an image set, and refusing what the service or a serving model
still uses: the campaign's persona or image set is never deleted, and the models that serve one
are retired with it only when asked (`retire_models`), never silently.

What a deletion keeps: every model version's files (a version serves from its own folder), the
posts and generated items made with it (their link to the persona is cleared), and training runs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import App
from bot.errors import NowbotError
from corpora.imagesets import set_folder
from storage.corpus import Persona, Tweet
from storage.imagesets import Image, ImageSet
from storage.registry import ModelKind, ModelVersion, VersionStatus

IMAGE_MODEL_KINDS = (ModelKind.GAN, "draw")


class DeletionRefused(NowbotError):
    """The persona or set is in use; the message says what to do."""


@dataclass(frozen=True)
class Deletion:
    """What deleting `name` removes (`items` of it) and which serving versions it would retire
    (`serving`, as "text ada v2 (speaks ada, bob)")."""

    what: str  # "persona" or "image set"
    name: str
    items: int
    serving: list[str]
    version_ids: list[int]


def persona_deletion(app: App, name: str) -> Deletion:
    """What deleting persona `name` would do; `DeletionRefused` for the campaign's persona."""
    if name == app.settings.campaign_persona:
        raise DeletionRefused(f"{name} is the campaign's persona (NOWBOT_CAMPAIGN_PERSONA): the "
                              "service trains and posts as it; set another persona there first")
    with app.sessions() as session:
        persona = _persona(session, name)
        tweets = session.scalar(select(func.count(Tweet.id)).where(Tweet.persona_id == persona.id))
        versions = [v for v in _serving(session, (ModelKind.TEXT,))
                    if name in (v.config.get("personas") or [v.target])]
    return Deletion("persona", name, int(tweets or 0), [_speaks(v) for v in versions],
                    [v.id for v in versions])


def image_set_deletion(app: App, name: str) -> Deletion:
    """What deleting image set `name` would do; `DeletionRefused` for the campaign's set."""
    if name == (app.settings.campaign_image_set or _demo_set()):
        raise DeletionRefused(f"{name} is the campaign's image set (NOWBOT_CAMPAIGN_IMAGE_SET): "
                              "posts are illustrated from it; set another set there first")
    with app.sessions() as session:
        image_set = _image_set(session, name)
        images = session.scalar(select(func.count(Image.id)).where(Image.image_set_id == image_set.id))
        versions = [v for v in _serving(session, IMAGE_MODEL_KINDS) if v.target == name]
    return Deletion("image set", name, int(images or 0),
                    [f"{v.kind} {v.target} v{v.version}" for v in versions], [v.id for v in versions])


def delete(app: App, plan: Deletion, *, retire_models: bool = False) -> None:
    """Carry out `plan`: `DeletionRefused` while models serve it, unless `retire_models`."""
    if plan.serving and not retire_models:
        raise DeletionRefused(
            f"{plan.what} {plan.name} is used by the serving model {', '.join(plan.serving)}: "
            "add --retire-models to retire it too (its files stay), or keep the "
            f"{plan.what}"
        )
    with app.sessions.begin() as session:
        for version in session.scalars(select(ModelVersion).where(ModelVersion.id.in_(plan.version_ids))):
            version.status = VersionStatus.RETIRED
        if plan.what == "persona":
            session.delete(_persona(session, plan.name))  # its tweets and cursors go with it
        else:
            session.delete(_image_set(session, plan.name))  # and its image rows
    if plan.what == "image set":
        shutil.rmtree(set_folder(app.artifacts_dir, plan.name), ignore_errors=True)


def _persona(session: Session, name: str) -> Persona:
    persona = session.scalar(select(Persona).where(Persona.name == name))
    if persona is None:
        raise DeletionRefused(f"no persona named {name}; `nowbot corpus list` shows them")
    return persona


def _image_set(session: Session, name: str) -> ImageSet:
    image_set = session.scalar(select(ImageSet).where(ImageSet.name == name))
    if image_set is None:
        raise DeletionRefused(f"no image set named {name}; `nowbot images list` shows them")
    return image_set


def _serving(session: Session, kinds: tuple[str, ...]) -> list[ModelVersion]:
    query = select(ModelVersion).where(ModelVersion.kind.in_(kinds),
                                       ModelVersion.status == VersionStatus.SERVING)
    return list(session.scalars(query.order_by(ModelVersion.id)))


def _speaks(version: ModelVersion) -> str:
    names = version.config.get("personas") or [version.target]
    return f"text {version.target} v{version.version}" + (
        f" (speaks {', '.join(names)})" if len(names) > 1 else "")


def _demo_set() -> str:
    from bot.demo import DEMO_IMAGE_SET

    return DEMO_IMAGE_SET
