"""The one place that writes tweets: a request built by one rule, sampled (with the word guide)
in a batch, each tweet chosen from its own candidates.

The CLI, campaign posts, the chat engine and the benchmarks all come here: `request` builds
what to sample from the selection `Rules` (the same length limit and candidates for every
edge), `write` samples and chooses, and the chat engine, which steps its own shared batches
(guided by `Editor.guide`), calls `choose_each` itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.errors import ModelError
from models.text.batch import Request, sample
from models.text.sampler import Sample, Sampler
from models.text.select import Editor, Ranked, Rules, choose

ROUNDS = 3  # samplings at most for the tweets whose candidates were all refused


@dataclass(frozen=True)
class Draft:
    """A chosen tweet and the candidates it was chosen from, ranked, with their scores."""

    chosen: Sample
    ranked: Ranked

    @property
    def index(self) -> int:
        """Where the chosen tweet is among the ranked candidates."""
        return self.ranked.samples.index(self.chosen)


def request(
    editor: Editor, persona: str, count: int = 1, *, rules: Rules = Rules(), prompt: str = "",
    temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0, blend: str | None = None,
    mix: float = 0.5,
) -> Request:
    """What to sample for `count` tweets of `persona` under `rules`: each from
    `rules.candidates` of its own, guided by words, no longer than the persona usually writes."""
    personas = [persona, *filter(None, [blend])]
    return Request(
        persona, count, rules.candidates, prompt=prompt, temperature=temperature, top_k=top_k,
        top_p=top_p, blend=blend, mix=mix, max_chars=editor.length_limit(personas, prompt),
        real_words=rules.real_words, mentions=rules.allow_mentions, thin=rules.thin,
        guide=rules.guide,
    )


def choose_each(
    groups: Sequence[Sequence[Sample]], editor: Editor, rules: Rules, *,
    recent: Sequence[str] = (), persona: str = "",
) -> list[Sample]:
    """The best acceptable candidate of each group (`choose`; `recent` posts are neither
    repeated nor opened like), none chosen twice; a group with none acceptable gives nothing.
    A one-line `ModelError` when no group had one."""
    drafts, rejected = _choose_each(groups, editor, rules, recent, persona, recent)
    if not drafts:
        raise _none_acceptable(sum(len(group) for group in groups), rejected)
    return [draft.chosen for draft in drafts]


def write(
    sampler: Sampler, editor: Editor, persona: str, count: int = 1, *, rules: Rules = Rules(),
    recent: Sequence[str] = (), seed: int | None = None, **sampling: object,
) -> list[Sample]:
    """`count` tweets of `persona`, each the best acceptable of its own candidates, all
    sampled together (`sampling`: prompt, temperature, top_k, top_p, blend, mix). A tweet
    whose candidates were all refused (copies, say) is sampled again, up to `ROUNDS` times."""
    return [draft.chosen for draft in _write(sampler, editor, persona, count, rules, recent,
                                             seed, sampling)]


def write_draft(
    sampler: Sampler, editor: Editor, persona: str, *, rules: Rules = Rules(),
    recent: Sequence[str] = (), seed: int | None = None, **sampling: object,
) -> Draft:
    """One tweet as `write` writes it, with the candidates it was chosen from and their
    scores (a campaign draft keeps them for its reviewers and their review model)."""
    return _write(sampler, editor, persona, 1, rules, recent, seed, sampling)[0]


def _write(
    sampler: Sampler, editor: Editor, persona: str, count: int, rules: Rules,
    recent: Sequence[str], seed: int | None, sampling: dict[str, object],
) -> list[Draft]:
    wanted = request(editor, persona, count, rules=rules, **sampling)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    drafts: list[Draft] = []
    rejected: Counter[str] = Counter()
    sampled = 0
    for _ in range(ROUNDS):
        groups = sample(sampler, replace(wanted, count=count - len(drafts)), guide=editor.guide,
                        rng=rng)
        more, why = _choose_each(groups, editor, rules,
                                 [*recent, *(d.chosen.text for d in drafts)], persona, recent)
        drafts, rejected = drafts + more, rejected + why
        sampled += wanted.candidates * len(groups)
        if len(drafts) == count:
            break
    if not drafts:
        raise _none_acceptable(sampled, rejected)
    return drafts


def _choose_each(
    groups: Sequence[Sequence[Sample]], editor: Editor, rules: Rules, recent: Sequence[str],
    persona: str, openings: Sequence[str],
) -> tuple[list[Draft], Counter[str]]:
    drafts: list[Draft] = []
    rejected: Counter[str] = Counter()
    for group in groups:
        accepted, why, ranked = choose(group, editor, rules,
                                       [*recent, *(d.chosen.text for d in drafts)], persona,
                                       limit=1, openings=openings)
        drafts += [Draft(sample, ranked) for sample in accepted]
        rejected += why
    return drafts, rejected


def _none_acceptable(candidates: int, rejected: Counter[str]) -> ModelError:
    reasons = ", ".join(f"{count} {reason}" for reason, count in rejected.most_common())
    return ModelError(f"no acceptable tweet among {candidates} candidates ({reasons})")
