"""A campaign whose reviewers have judged drafts, for the dashboard's tests: decisions that
teach its review model (approved drafts mention the keynote, rejected ones the parking), and a
generator that says why it chose each text as `bot.generation.generate_post_text` does."""

from __future__ import annotations

import dataclasses
from typing import Any

from service_harness import StubGenerator

from bot.app import App
from bot.core import posts, reviewing
from bot.core.runtime import Runtime
from bot.generation import GeneratedText, ScoredText
from storage.reviews import Decision, ReviewDecision

CANDIDATES = 64
SCORES = {"fluency": -1.1, "words": -31.0, "length": -0.4, "flaws": 0.0}
RANKS = {"fluency": 3, "words": 1, "length": 2}
WHY_START = (f"best of {CANDIDATES} candidates by fluency and voice (fluency 3rd, the persona's "
             "words 1st, usual length 2nd)")


def judge(app: App, drafts: int = 24) -> None:
    """`drafts` judged drafts of the campaign persona, approvals and rejections in turn."""
    with app.sessions.begin() as session:
        session.add_all(
            ReviewDecision(campaign=app.settings.campaign_persona, decision=decision,
                           text_before=text, reviewer="ana")
            for i in range(drafts)
            for decision, text in [(Decision.APPROVED, f"The keynote in hall {i} is on now")
                                   if i % 2 == 0 else  # as long as the rejected: only words
                                   (Decision.REJECTED, f"The parking lot {i} is full again")])


def trained(app: App) -> Any:
    """The campaign's review model trained from `judge`'s decisions (the training's outcome)."""
    judge(app)
    outcome = reviewing.train(app)
    assert outcome.verdict.promoted, outcome.verdict.reason
    return outcome


class ChoosingGenerator(StubGenerator):
    """The stub's texts, each with why it was chosen and its candidates, shaped as
    `generate_post_text` writes them; the campaign's review model weighs in once it serves."""

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> GeneratedText:
        written = super().generate_post_text(app, persona, recent)
        scores, ranks = dict(SCORES), dict(RANKS)
        why: dict[str, Any] = {"candidates": CANDIDATES, "scores": scores, "ranks": ranks}
        review = reviewing.approving(app, persona)
        if review is not None:
            scores["approval"] = float(review.model.approval([written.text])[0])
            ranks["approval"] = 1
            why.update(review_version=review.version, weight=review.weight)
        chosen = ScoredText(0, written.text, scores, chosen=True)
        return dataclasses.replace(written, why=why, candidates=(chosen,))


def chosen_draft(runtime: Runtime) -> int:
    """A campaign draft written by `ChoosingGenerator` (through `make_campaign_post`); its id."""
    choosing = dataclasses.replace(runtime, generator=ChoosingGenerator())
    return posts.make_campaign_post(choosing).id
