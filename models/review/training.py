"""Training a campaign's review model from its reviewers' decisions, and its gate.

Each judged draft is one example: its text, the editor's scores of it (kept with its
candidates) and its label from the decisions on it: approved 1 (0.5 when it was edited first),
edited 0.5, rejected or regenerated 0; a draft whose approval was taken back and not decided
again teaches nothing yet. Decisions an operator reset (`ReviewLoop.forgotten_through`) are left
out.

The gate: the newest decisions the serving model has not learned from (at least
`MIN_HELD_OUT`, at most half) are held out; a model fitted on the rest is promoted only if its
log loss on them is below chance's (always predicting the approval rate of the rest) and no
worse than the serving model's. The version saved is then fitted on every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ModelError
from models.registry import Registry, Verdict
from models.review.features import features
from models.review.model import ReviewModel
from storage.outbox import GeneratedItem
from storage.registry import ModelKind, ModelVersion
from storage.reviews import Decision, DraftCandidate, ReviewDecision, ReviewLoop

MIN_HELD_OUT = 5
LABELS = {Decision.APPROVED: 1.0, Decision.EDITED: 0.5, Decision.REJECTED: 0.0,
          Decision.REGENERATED: 0.0}


@dataclass(frozen=True)
class Example:
    """One judged draft: its text and editor's scores, its label, and its newest decision."""

    text: str
    scores: dict[str, float]
    label: float
    decision_id: int

    def features(self) -> dict[str, float]:
        return features(self.text, self.scores)


@dataclass(frozen=True)
class ReviewOutcome:
    """What a training of a review model did: the version saved (None when there were too few
    decisions to train), and the gate's verdict or why nothing was trained."""

    version: int | None
    verdict: Verdict
    metrics: dict[str, Any]


def label(decisions: Sequence[str]) -> float | None:
    """A draft's label from the decisions on it, oldest first (None: nothing decided yet)."""
    final = next((d for d in reversed(decisions) if d != Decision.UNAPPROVED), None)
    if final is None or decisions[-1] == Decision.UNAPPROVED:
        return None
    if final == Decision.APPROVED and Decision.EDITED in decisions:
        return LABELS[Decision.EDITED]
    return LABELS[Decision(final)]


def forgotten_through(session: Session, campaign: str) -> int:
    """The newest decision of `campaign` an operator's reset forgot (0: none)."""
    loop = session.get(ReviewLoop, campaign)
    return loop.forgotten_through if loop is not None else 0


def examples(sessions: sessionmaker[Session], campaign: str) -> list[Example]:
    """The judged drafts of `campaign` since its last reset, in the order of their newest
    decision."""
    with sessions() as session:
        since = forgotten_through(session, campaign)
        rows = session.execute(
            select(ReviewDecision.id, ReviewDecision.generated_item_id, ReviewDecision.decision,
                   ReviewDecision.text_before)
            .where(ReviewDecision.campaign == campaign, ReviewDecision.id > since)
            .order_by(ReviewDecision.id)
        ).all()
        drafts: dict[Any, list[Any]] = {}
        for row in rows:  # a draft whose text item is gone is known by its text
            drafts.setdefault(row.generated_item_id or row.text_before, []).append(row)
        items = [key for key in drafts if isinstance(key, int)]
        texts = dict(session.execute(
            select(GeneratedItem.id, GeneratedItem.text).where(GeneratedItem.id.in_(items))).all())
        scores = dict(session.execute(
            select(DraftCandidate.generated_item_id, DraftCandidate.scores)
            .where(DraftCandidate.generated_item_id.in_(items), DraftCandidate.chosen)).all())
    found = []
    for key, decided in drafts.items():
        value = label([row.decision for row in decided])
        if value is not None:
            text = texts.get(key) or decided[0].text_before
            found.append(Example(text, scores.get(key, {}), value, decided[-1].id))
    return sorted(found, key=lambda e: e.decision_id)


def log_loss(labels: Sequence[float], predicted: np.ndarray) -> float:
    """Mean log loss of soft `labels` under the predicted chances of approval."""
    p = np.clip(predicted, 1e-6, 1 - 1e-6)
    y = np.asarray(labels, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def serving_model(registry: Registry, campaign: str) -> tuple[ModelVersion, ReviewModel] | None:
    """The campaign's serving review model with its version, or None."""
    version = registry.serving(ModelKind.REVIEW, campaign)
    if version is None:
        return None
    return version, ReviewModel.load(registry.local_path(version))


def train_review_model(registry: Registry, campaign: str, *, min_decisions: int) -> ReviewOutcome:
    """Fit `campaign`'s review model on its decisions, gate it and save it as a version; with
    fewer than `min_decisions` judged drafts, or only one kind of decision, nothing is trained
    and the verdict says why."""
    data = examples(registry.sessions, campaign)
    labels = [e.label for e in data]
    counts = {"decisions": len(data), "approval_rate": float(np.mean(labels)) if data else None}
    if len(data) < min_decisions or len(set(labels)) < 2 or max(labels) == 0 or min(labels) == 1:
        reason = (f"not trained: {len(data)} judged drafts of {min_decisions} needed"
                  if len(data) < min_decisions else
                  "not trained: the decisions so far are all alike (approvals and rejections "
                  "are both needed)")
        return ReviewOutcome(None, Verdict(False, reason), counts)
    serving = serving_model(registry, campaign)
    seen = serving[0].metrics.get("last_decision_id", 0) if serving else 0
    unseen = sum(e.decision_id > seen for e in data)
    held = min(max(unseen, MIN_HELD_OUT), len(data) // 2)
    fitted, tested = data[:-held], data[-held:]
    truth = [e.label for e in tested]
    rate = float(np.mean([e.label for e in fitted]))
    losses: dict[str, float | None] = {
        "chance": log_loss(truth, np.full(len(tested), rate)),
        "serving": (log_loss(truth, serving[1].probability([e.features() for e in tested]))
                    if serving else None),
    }
    try:
        losses["candidate"] = log_loss(
            truth, ReviewModel.fit([e.features() for e in fitted], [e.label for e in fitted])
            .probability([e.features() for e in tested]))
    except ModelError:  # the older decisions were all alike: the candidate can only guess
        losses["candidate"] = losses["chance"]
    model = ReviewModel.fit([e.features() for e in data], labels)
    likes, dislikes = model.describe()
    metrics = {**counts, "held_out": held, "last_decision_id": data[-1].decision_id,
               "log_loss": losses["candidate"], "chance_log_loss": losses["chance"],
               "serving_log_loss": losses["serving"], "likes": likes, "dislikes": dislikes}
    version = registry.save_version(ModelKind.REVIEW, campaign, model.save, metrics)
    verdict = registry.decide(version.id, _verdict(losses, held, serving))
    return ReviewOutcome(version.version, verdict, {**metrics, "gate": verdict.reason})


def _verdict(losses: dict[str, float | None], held: int,
             serving: tuple[ModelVersion, ReviewModel] | None) -> Verdict:
    candidate, chance, served = losses["candidate"], losses["chance"], losses["serving"]
    assert candidate is not None and chance is not None
    against = f"on the {held} newest decisions: log loss {candidate:.3f} vs chance {chance:.3f}"
    if served is not None and serving is not None:
        against += f", serving v{serving[0].version} {served:.3f}"
    if not candidate < chance:
        return Verdict(False, f"rejected: no better than chance {against}")
    if served is not None and not candidate <= served + 1e-12:
        return Verdict(False, f"rejected: worse than the serving model {against}")
    return Verdict(True, f"promoted {against}")
