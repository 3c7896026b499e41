"""Training a campaign's review model from its reviewers' decisions, and its gate.

Each judged draft is one example: its text, the editor's scores of it (kept with its
candidates) and its label from the decisions on it: approved 1 (0.5 when it was edited first),
edited 0.5, rejected or regenerated 0; a draft whose approval was taken back and not decided
again teaches nothing yet. A text a reviewer wrote in an edit is one more example, approved
(its editor's scores, which nobody computed, are the drafts' mean). Decisions an operator reset
(`ReviewLoop.forgotten_through`) are left out.

The gate judges a candidate on decisions it did not learn from: each example is predicted by
a model fitted on the other folds of a `FOLDS`-fold split, and chance by the approval rate of
those folds. With no serving model, all examples are judged; with one, only the ones it did
not learn from (at least `MIN_HELD_OUT`). The candidate is promoted only if its log loss is
below chance's and no worse than the serving model's; the version saved is then fitted on
every example.
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
from models.review.features import SCORES, features
from models.review.model import ReviewModel
from storage.outbox import GeneratedItem
from storage.registry import ModelKind, ModelVersion
from storage.reviews import Decision, DraftCandidate, ReviewDecision, ReviewLoop

MIN_HELD_OUT = 5
FOLDS = 5
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


def judged_drafts(session: Session, *where: Any) -> dict[tuple[str, Any], list[Any]]:
    """The decisions matching `where`, oldest first, grouped per draft: by campaign and text
    item (a draft whose item is gone, by its text)."""
    rows = session.execute(
        select(ReviewDecision.id, ReviewDecision.campaign, ReviewDecision.generated_item_id,
               ReviewDecision.decision, ReviewDecision.text_before, ReviewDecision.text_after)
        .where(*where).order_by(ReviewDecision.id)
    ).all()
    drafts: dict[tuple[str, Any], list[Any]] = {}
    for row in rows:
        drafts.setdefault((row.campaign, row.generated_item_id or row.text_before), []
                          ).append(row)
    return drafts


def rewrite(decided: Sequence[Any]) -> str | None:
    """The text a reviewer last wrote for a draft, from its decisions (None: never edited)."""
    return next((row.text_after for row in reversed(decided)
                 if row.decision == Decision.EDITED and row.text_after is not None), None)


def examples(sessions: sessionmaker[Session], campaign: str) -> list[Example]:
    """The judged drafts of `campaign` since its last reset (and the texts reviewers wrote in
    edits), in the order of their newest decision."""
    with sessions() as session:
        since = forgotten_through(session, campaign)
        drafts = judged_drafts(session, ReviewDecision.campaign == campaign,
                               ReviewDecision.id > since)
        items = [item for _, item in drafts if isinstance(item, int)]
        texts = dict(session.execute(
            select(GeneratedItem.id, GeneratedItem.text).where(GeneratedItem.id.in_(items))).all())
        scores = dict(session.execute(
            select(DraftCandidate.generated_item_id, DraftCandidate.scores)
            .where(DraftCandidate.generated_item_id.in_(items), DraftCandidate.chosen)).all())
    found, written = [], []
    for (_, key), decided in drafts.items():
        value = label([row.decision for row in decided])
        if value is None:
            continue
        text = texts.get(key) or decided[0].text_before
        found.append(Example(text, scores.get(key, {}), value, decided[-1].id))
        if value > 0 and (rewritten := rewrite(decided)) is not None:
            written.append((rewritten, decided[-1].id))  # what the reviewer wanted instead
    usual = _mean_scores([e.scores for e in found])
    found += [Example(text, usual, 1.0, decision) for text, decision in written]
    return sorted(found, key=lambda e: e.decision_id)


def _mean_scores(scores: Sequence[dict[str, float]]) -> dict[str, float]:
    names = {name for found in scores for name in found if name in SCORES}
    return {name: float(np.mean([s[name] for s in scores if name in s])) for name in names}


def log_losses(labels: Sequence[float], predicted: np.ndarray) -> np.ndarray:
    """Each example's log loss: soft `labels` under the predicted chances of approval."""
    p = np.clip(predicted, 1e-6, 1 - 1e-6)
    y = np.asarray(labels, dtype=float)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def log_loss(labels: Sequence[float], predicted: np.ndarray) -> float:
    """Mean log loss of soft `labels` under the predicted chances of approval."""
    return float(np.mean(log_losses(labels, predicted)))


def serving_model(registry: Registry, campaign: str) -> tuple[ModelVersion, ReviewModel] | None:
    """The campaign's serving review model with its version, or None."""
    version = registry.serving(ModelKind.REVIEW, campaign)
    if version is None:
        return None
    return version, ReviewModel.load(registry.local_path(version))


def out_of_fold(data: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Each example's chance of approval as predicted by a model fitted on the other folds,
    and as chance predicts it (the other folds' approval rate)."""
    rows = [e.features() for e in data]
    labels = np.asarray([e.label for e in data])
    folds = np.random.default_rng(0).permutation(len(data)) % FOLDS
    model, chance = np.empty(len(data)), np.empty(len(data))
    for fold in range(FOLDS):
        test, fitted = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        if not len(test):
            continue
        chance[test] = labels[fitted].mean()
        try:
            model[test] = ReviewModel.fit([rows[i] for i in fitted], labels[fitted]).probability(
                [rows[i] for i in test])
        except ModelError:  # the other folds are all alike: the model can only guess as chance
            model[test] = chance[test]
    return model, chance


def train_review_model(registry: Registry, campaign: str, *, min_decisions: int) -> ReviewOutcome:
    """Fit `campaign`'s review model on its decisions, gate it and save it as a version; with
    fewer than `min_decisions` judged drafts, only one kind of decision, or too few new ones
    since the serving model, nothing is trained and the verdict says why."""
    data = examples(registry.sessions, campaign)
    labels = [e.label for e in data]
    counts = {"decisions": len(data), "approval_rate": float(np.mean(labels)) if data else None}
    serving = serving_model(registry, campaign)
    seen = serving[0].metrics.get("last_decision_id", 0) if serving else 0
    judged = [i for i, e in enumerate(data) if e.decision_id > seen]
    if len(data) < min_decisions:
        reason = f"not trained: {len(data)} judged drafts of {min_decisions} needed"
    elif len(set(labels)) < 2:
        reason = ("not trained: the decisions so far are all alike (approvals and rejections "
                  "are both needed)")
    elif serving and len(judged) < MIN_HELD_OUT:
        reason = (f"not trained: {len(judged)} new judged drafts since v{serving[0].version} "
                  f"({MIN_HELD_OUT} are needed to judge a new model)")
    else:
        reason = None
    if reason is not None:
        return ReviewOutcome(None, Verdict(False, reason), counts)
    predicted, chance = out_of_fold(data)
    truth = [labels[i] for i in judged]
    # How much better than chance on each decision; the candidate must beat chance by more
    # than one standard error of it (a model of random decisions beats chance by luck often).
    gain = log_losses(truth, chance[judged]) - log_losses(truth, predicted[judged])
    losses = {"candidate": log_loss(truth, predicted[judged]),
              "chance": log_loss(truth, chance[judged]),
              "margin": float(gain.std(ddof=1) / np.sqrt(len(gain))),
              "serving": (log_loss(truth, serving[1].probability([data[i].features()
                                                                   for i in judged]))
                          if serving else None)}
    model = ReviewModel.fit([e.features() for e in data], labels)
    likes, dislikes = model.describe()
    metrics = {**counts, "judged": len(judged), "last_decision_id": data[-1].decision_id,
               "log_loss": losses["candidate"], "chance_log_loss": losses["chance"],
               "serving_log_loss": losses["serving"], "likes": likes, "dislikes": dislikes}
    version = registry.save_version(ModelKind.REVIEW, campaign, model.save, metrics)
    verdict = registry.decide(version.id, _verdict(losses, len(judged), serving))
    return ReviewOutcome(version.version, verdict, {**metrics, "gate": verdict.reason})


def _verdict(losses: dict[str, float | None], held: int,
             serving: tuple[ModelVersion, ReviewModel] | None) -> Verdict:
    candidate, chance, served = losses["candidate"], losses["chance"], losses["serving"]
    assert candidate is not None and chance is not None
    against = (f"on {held} decisions it did not learn from: log loss {candidate:.3f} vs "
               f"chance {chance:.3f}")
    if served is not None and serving is not None:
        against += f", serving v{serving[0].version} {served:.3f}"
    margin = losses["margin"]
    assert margin is not None
    if not chance - candidate > margin:
        return Verdict(False, f"rejected: no better than chance (by {margin:.3f} or more) "
                              f"{against}")
    if served is not None and not candidate <= served + 1e-12:
        return Verdict(False, f"rejected: worse than the serving model {against}")
    return Verdict(True, f"promoted {against}")
