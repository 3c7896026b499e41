"""The one place that writes tweets: a request built by one rule, sampled (with the word guide)
in a batch, each tweet chosen from its own candidates.

The CLI, campaign posts, the chat engine and the benchmarks all come here: `request` builds
what to sample from the selection `Rules` (the same length limit and candidates for every
edge), `write` samples and chooses, and the chat engine, which steps its own shared batches,
calls `guide_of` and `choose_each` itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import ModelError
from models.text.batch import Request, sample
from models.text.guide import Guide
from models.text.sampler import Sample, Sampler
from models.text.select import Editor, Rules, choose


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


def guide_of(sampler: Sampler, editor: Editor) -> Guide | None:
    """The word guide of a version (None for versions saved without a word model)."""
    return Guide(editor.words, sampler.lexicon) if editor.words is not None else None


def choose_each(
    groups: Sequence[Sequence[Sample]], editor: Editor, rules: Rules, *,
    recent: Sequence[str] = (), persona: str = "",
) -> list[Sample]:
    """The best acceptable candidate of each group (`choose`), none chosen twice; a group
    with none acceptable gives nothing. A one-line `ModelError` when no group had one."""
    chosen: list[Sample] = []
    reasons: dict[str, int] = {}
    for group in groups:
        accepted, rejected = choose(group, editor, rules, [*recent, *(s.text for s in chosen)],
                                    persona, limit=1)
        chosen += accepted
        for reason, count in rejected.items():
            reasons[reason] = reasons.get(reason, 0) + count
    if not chosen:
        why = ", ".join(f"{count} {reason}" for reason, count in
                        sorted(reasons.items(), key=lambda item: -item[1]))
        total = sum(len(group) for group in groups)
        raise ModelError(f"no acceptable tweet among {total} candidates ({why})")
    return chosen


def write(
    sampler: Sampler, editor: Editor, persona: str, count: int = 1, *, rules: Rules = Rules(),
    recent: Sequence[str] = (), seed: int | None = None, **sampling: object,
) -> list[Sample]:
    """Up to `count` tweets of `persona`, each the best acceptable of its own candidates, all
    sampled together (`sampling`: prompt, temperature, top_k, top_p, blend, mix)."""
    wanted = request(editor, persona, count, rules=rules, **sampling)  # type: ignore[arg-type]
    groups = sample(sampler, wanted, guide=guide_of(sampler, editor), seed=seed)
    return choose_each(groups, editor, rules, recent=recent, persona=persona)
