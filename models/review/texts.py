"""What reviewers' decisions add to a persona's fine-tuning data: the campaign texts a person
approved (as approved) or rewrote (as rewritten), joined to the persona's tweets at its next
retraining unless that training leaves them out (`nowbot train text --without-reviewed`).

An operator's reset of the review loop does not remove them: it is about the review model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.review.training import label
from storage.reviews import Decision, ReviewDecision


def reviewed_texts(sessions: sessionmaker[Session], personas: Sequence[str] = ()
                   ) -> list[tuple[str, str]]:
    """(persona, text) of each judged draft of a campaign of `personas` (all when empty) that
    a person approved or edited: the last edit's text when it was edited, else the text
    approved; oldest first."""
    query = (select(ReviewDecision.campaign, ReviewDecision.generated_item_id,
                    ReviewDecision.decision, ReviewDecision.text_before,
                    ReviewDecision.text_after)
             .order_by(ReviewDecision.id))
    if personas:
        query = query.where(ReviewDecision.campaign.in_(personas))
    with sessions() as session:
        rows = session.execute(query).all()
    drafts: dict[tuple[str, Any], list[Any]] = {}
    for row in rows:  # a draft whose text item is gone is known by its text
        drafts.setdefault((row.campaign, row.generated_item_id or row.text_before), []
                          ).append(row)
    found = []
    for (campaign, _), decided in drafts.items():
        value = label([row.decision for row in decided])
        if value is None or value <= 0:
            continue
        edits = [row.text_after for row in decided
                 if row.decision == Decision.EDITED and row.text_after is not None]
        approved = [row.text_before for row in decided if row.decision == Decision.APPROVED]
        found.append((campaign, edits[-1] if edits else approved[-1]))
    return found
