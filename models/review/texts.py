"""What reviewers' decisions add to a persona's fine-tuning data: the campaign texts a person
approved (as approved) or rewrote (as rewritten), joined to the persona's tweets at its next
retraining unless that training leaves them out (`nowbot train text --without-reviewed`).

An operator's reset of the review loop does not remove them: it is about the review model."""

from __future__ import annotations

from collections.abc import Sequence
from sqlalchemy.orm import Session, sessionmaker

from models.review.training import judged_drafts, label, rewrite
from storage.reviews import Decision, ReviewDecision


def reviewed_texts(sessions: sessionmaker[Session], personas: Sequence[str] = ()
                   ) -> list[tuple[str, str]]:
    """(persona, text) of each judged draft of a campaign of `personas` (all when empty) that
    a person approved or edited: the last edit's text when it was edited, else the text
    approved; oldest first."""
    where = [ReviewDecision.campaign.in_(personas)] if personas else []
    with sessions() as session:
        drafts = judged_drafts(session, *where)
    found = []
    for (campaign, _), decided in drafts.items():
        value = label([row.decision for row in decided])
        if value is None or value <= 0:
            continue
        approved = [row.text_before for row in decided if row.decision == Decision.APPROVED]
        found.append((campaign, rewrite(decided) or approved[-1]))
    return found
