"""The reviewer-learning loop: what a campaign's reviewers decided teaches its review model,
which then weighs in when the campaign's next texts are chosen (`models/review`).

Every edge (CLI `nowbot review-model`, dashboard, scheduled job) calls these: the loop's state
in words, training the model (gated), switching the loop off and on, resetting it, the rules
generation ranks with, and the "why this one" line of a draft.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.app import App
from models.registry import Registry
from storage.base import utcnow
from storage.outbox import GeneratedItem
from storage.registry import ModelKind, ModelVersion
from storage.reviews import ReviewDecision, ReviewLoop

if TYPE_CHECKING:  # NumPy and scikit-learn load with the first training or scoring
    from models.review.model import ReviewModel
    from models.review.training import ReviewOutcome

log = logging.getLogger("nowbot.reviewing")
SCORE_NAMES = {"fluency": "fluency", "words": "the persona's words", "length": "usual length",
               "approval": "reviewers' taste"}


@dataclass(frozen=True)
class LoopState:
    """A campaign's loop as an operator sees it."""

    campaign: str
    enabled: bool  # the operator's switch
    weight: float  # the settings' (0: off for every campaign)
    decisions: int  # decisions kept since the last reset
    needed: int  # judged drafts needed before a model is trained
    serving: ModelVersion | None
    latest: ModelVersion | None  # the newest version trained, promoted or not
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether the review model weighs in when the campaign's texts are chosen."""
        return self.enabled and self.weight > 0 and self.serving is not None

    def summary(self) -> str:
        """One line: on or off and why, and what the model learned."""
        if not self.enabled:
            return f"off for {self.campaign} (switched off by an operator): ranking unchanged"
        if self.weight == 0:
            return "off (NOWBOT_REVIEW_WEIGHT is 0): ranking unchanged"
        if self.serving is None:
            return (f"learning: {self.decisions} decisions kept for {self.campaign}, a model "
                    f"is trained from {self.needed} judged drafts; ranking unchanged until then")
        metrics = self.serving.metrics
        return (f"on: review model v{self.serving.version} of {self.campaign} weighs "
                f"{self.weight:g}, learned from {metrics.get('decisions', 0)} judged drafts")

    def learned(self) -> str:
        """What the serving model learned the reviewers like and dislike, in words."""
        if self.serving is None:
            return "nothing learned yet"
        likes = ", ".join(self.likes) or "nothing in particular"
        dislikes = ", ".join(self.dislikes) or "nothing in particular"
        return f"reviewers approve more: {likes}; they approve less: {dislikes}"


def campaign_of(app: App, campaign: str | None) -> str:
    """`campaign`, or the settings' campaign persona."""
    return campaign or app.settings.campaign_persona


def state(app: App, campaign: str | None = None) -> LoopState:
    """The loop's state for `campaign` (default: the campaign persona's)."""
    campaign = campaign_of(app, campaign)
    registry = Registry(app.sessions, app.artifacts_dir)
    with app.sessions() as session:
        loop = session.get(ReviewLoop, campaign)
        since = loop.forgotten_through if loop is not None else 0
        decisions = session.scalar(select(func.count(ReviewDecision.id)).where(
            ReviewDecision.campaign == campaign, ReviewDecision.id > since)) or 0
        latest = session.scalar(select(ModelVersion).where(
            ModelVersion.kind == ModelKind.REVIEW, ModelVersion.target == campaign)
            .order_by(ModelVersion.version.desc()).limit(1))
    serving = registry.serving(ModelKind.REVIEW, campaign)
    metrics = serving.metrics if serving is not None else {}
    return LoopState(campaign, loop.enabled if loop is not None else True,
                     app.settings.review_weight, decisions, app.settings.review_min_decisions,
                     serving, latest, list(metrics.get("likes", [])),
                     list(metrics.get("dislikes", [])))


def train(app: App, campaign: str | None = None) -> ReviewOutcome:
    """Train `campaign`'s review model from its decisions and gate it (`models.review.training`);
    the outcome, with the verdict in words."""
    from models.review.training import train_review_model

    campaign = campaign_of(app, campaign)
    outcome = train_review_model(Registry(app.sessions, app.artifacts_dir), campaign,
                                 min_decisions=app.settings.review_min_decisions)
    log.info("review model of %s: %s", campaign, outcome.verdict.reason)
    return outcome


def switch(app: App, enabled: bool, by: str, campaign: str | None = None) -> LoopState:
    """Switch `campaign`'s loop off (its model stops weighing in; decisions are still kept) or
    on again."""
    campaign = campaign_of(app, campaign)
    with app.sessions.begin() as session:
        loop = session.get(ReviewLoop, campaign) or ReviewLoop(campaign=campaign,
                                                               forgotten_through=0)
        loop.enabled, loop.changed_by, loop.changed_at = enabled, by[:100], utcnow()
        session.add(loop)
    log.info("review loop of %s switched %s by %s", campaign, "on" if enabled else "off", by)
    return state(app, campaign)


def reset(app: App, by: str, campaign: str | None = None) -> LoopState:
    """Start `campaign`'s loop over: its review model stops serving and the decisions so far
    no longer teach the next one (they stay stored)."""
    campaign = campaign_of(app, campaign)
    retired = Registry(app.sessions, app.artifacts_dir).retire(ModelKind.REVIEW, campaign)
    with app.sessions.begin() as session:
        newest = session.scalar(select(func.max(ReviewDecision.id)).where(
            ReviewDecision.campaign == campaign)) or 0
        loop = session.get(ReviewLoop, campaign) or ReviewLoop(campaign=campaign, enabled=True)
        loop.forgotten_through, loop.changed_by, loop.changed_at = newest, by[:100], utcnow()
        session.add(loop)
    log.info("review loop of %s reset by %s%s", campaign, by,
             f" (v{retired.version} retired)" if retired is not None else "")
    return state(app, campaign)


@lru_cache(maxsize=32)
def _model(folder: Path) -> ReviewModel:
    from models.review.model import ReviewModel

    return ReviewModel.load(folder)  # a version's folder never changes


@dataclass(frozen=True)
class Approving:
    """A serving review model weighing in on a campaign's texts."""

    model: ReviewModel
    weight: float
    version: int


def approving(app: App, campaign: str) -> Approving | None:
    """The review model that weighs in on `campaign`'s texts, or None when the loop is off or
    has no model yet (the ranking is then unchanged)."""
    loop = state(app, campaign)
    if not loop.active or loop.serving is None:
        return None
    folder = Registry(app.sessions, app.artifacts_dir).local_path(loop.serving)
    return Approving(_model(folder), loop.weight, loop.serving.version)


def why_this_one(item: GeneratedItem | None) -> str | None:
    """A draft's "why this one" line: how its text ranked among the candidates it was chosen
    from on each of the editor's scores, and the review model's say (None: no scores kept)."""
    why = (item.details or {}).get("why") if item is not None else None
    if not why:
        return None
    count, ranks, scores = why["candidates"], why["ranks"], why["scores"]
    parts = [f"{SCORE_NAMES[name]} {_ordinal(ranks[name])}" for name in SCORE_NAMES
             if name in ranks and name != "approval"]
    line = f"best of {count} candidates by fluency and voice ({', '.join(parts)})"
    if "approval" in scores:
        line += (f" and the reviewers' taste: {scores['approval']:.0%} likely approved "
                 f"({_ordinal(ranks['approval'])} of {count}; review model "
                 f"v{why.get('review_version', '?')} at weight {why.get('weight', 0):g})")
    else:
        line += "; the review model did not weigh in"
    return line


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
