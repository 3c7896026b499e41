"""Does the bot learn what its reviewers want? Simulated reviewers, the loop on and off, in one run.

For each persona a text model serves in a fresh nowbot (SQLite, no platform); each simulated
reviewer reviews `--drafts` campaign drafts in rounds of 10 through the product's path: a draft
is `make_campaign_post` (256 candidates; draft n samples with seed 5000 + n, so both sides
choose from the same candidates), the reviewer approves, rejects, or edits it and approves the
edit through `bot.core.posts`, and after each round the campaign's review model is trained
(`bot.core.reviewing.train`, its gate included). Loop on: the settings' weight; loop off:
weight 0 (the editor alone). The reviewers:

- `questions`: approves only drafts that ask a question or call to action;
- `topic`: rejects any draft that mentions one of the topic words the bot writes most about for
  the persona (the most frequent uncommon words of its loop-off drafts, taken until half of
  them hold one);
- `short`: wants drafts under 100 characters, or shorter than three quarters of the bot's
  loop-off drafts for the persona where that is shorter (their 25th-percentile length); a
  longer draft it shortens at a word (an edit, half an approval).

The loop-off drafts the last two are defined by are the `questions` reviewer's (that reviewer
edits nothing, so they are what the editor alone writes): a taste the bot already satisfies, or
a topic it never writes about, would leave the loop nothing to learn.

Reported per persona and reviewer: the approval rate per round (edits count half) on both
sides, the last 30 drafts' rates and their difference (target: +25 points), the review
model's verdicts and what it learned, the drafts' grammar (Link Grammar's unlinked words and
whole parses, `benchmarks.grammar`) and how well a classifier tells them from the persona's
held-out real tweets (`benchmarks.text_fidelity.distinguishability`), both sides with their
bootstrap noise (target: on no worse than off by more than twice the noise of the
difference), and the loop's cost per draft (finding the serving review model and scoring 256
candidates with it) against the loop-off side's preparation time (target: under 10%).

Models are trained as `benchmarks.text_fidelity` trains them (from the English prior, `--minutes`
each) and kept under var/bench/text_fidelity/ (the demo persona's too). Weights were chosen on
Elon Musk's corpus (`--persona elonmusk_tweets --weights ...`); the report is on the demo
persona, the National Park Service and J. D. Smith.

    .venv/bin/python -m benchmarks.review_loop [--drafts 100] [--persona NAME ...]
        [--weights W ...] [--minutes 3]

Needs Debian's Link Grammar (`apt-get install link-grammar python3-link-grammar`).
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from wordfreq import zipf_frequency

from benchmarks.grammar import grammar, parser
from benchmarks.text_common import corpus_files, load_corpus, save
from benchmarks.text_fidelity import WORK, distinguishability, train
from bot import generation
from bot.app import App, open_app
from bot.config import Settings
from bot.core import posts, reviewing
from bot.core.runtime import Runtime
from bot.demo import DEMO_PERSONA, demo_posts
from corpora.ingest import get_or_create_persona
from models.registry import Registry
from models.text.config import TextConfig
from models.text.data import PersonaTweet, split_by_tweet
from storage.registry import ModelKind

REPORTED = (DEMO_PERSONA, "NatlParkService", "smithjd_tweets")
ROUND = 10
LAST = 30
SEED = 5000
TOPIC_SHARE = 0.5
SHORT_LIMIT = 100
COST_CANDIDATES = 256
BOOTSTRAP = 200
Judgement = tuple[str, str | None]  # "approve" | "reject" | "edit", and the edited text
CREDIT = {"approve": 1.0, "edit": 0.5, "reject": 0.0}
ACTION = re.compile(
    r"\?|^\W*(?:join|come|visit|check|watch|read|share|tell|register|follow|see|learn|find|"
    r"grab|bring|sign|stop|tune|meet|explore|discover|try|don'?t|vote|apply|help|ask|"
    r"celebrate|catch|get|go|take|let's)\b|\b(?:join us|let us know|check out|sign up|tune in|"
    r"stop by|don'?t miss|find out|learn more|click)\b", re.IGNORECASE)
UNCOMMON = re.compile(r"[a-z][a-z']{3,}")


@dataclass(frozen=True)
class Reviewer:
    name: str
    taste: str
    judge: Callable[[str], Judgement]


def topic_words(texts: list[str]) -> list[str]:
    """The most frequent uncommon words (Zipf < 5) of `texts`, taken until `TOPIC_SHARE` of
    them hold one."""
    words = [set(w for w in UNCOMMON.findall(t.lower()) if zipf_frequency(w, "en") < 5.0)
             for t in texts]
    chosen: list[str] = []
    for word, _ in Counter(w for found in words for w in found).most_common():
        chosen.append(word)
        if np.mean([bool(found & set(chosen)) for found in words]) >= TOPIC_SHARE:
            break
    return chosen


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word so that it is under `limit` characters."""
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut if cut.endswith((".", "!", "?")) else cut + "."


def questions_reviewer() -> Reviewer:
    """The reviewer who approves only questions and calls to action."""

    def questions(text: str) -> Judgement:
        return ("approve" if ACTION.search(text) else "reject"), None

    return Reviewer("questions", "approves only questions and calls to action", questions)


def drafted_reviewers(drafts: list[str]) -> list[Reviewer]:
    """The `topic` and `short` reviewers of a persona the bot wrote `drafts` for, loop off."""
    topic = set(topic_words(drafts))
    limit = min(SHORT_LIMIT, int(np.percentile([len(t) for t in drafts], 25)))

    def against_topic(text: str) -> Judgement:
        return ("reject" if set(UNCOMMON.findall(text.lower())) & topic else "approve"), None

    def short(text: str) -> Judgement:
        return ("approve", None) if len(text) < limit else ("edit", shorten(text, limit))

    return [
        Reviewer("topic", f"rejects drafts that mention {', '.join(sorted(topic))}",
                 against_topic),
        Reviewer("short", f"wants drafts under {limit} characters, shortens longer ones",
                 short),
    ]


class Seeded:
    """The product's generator, with draft n sampling from seed `SEED` + n."""

    def __init__(self) -> None:
        self.drafts = 0

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> Any:
        self.drafts += 1
        return generation.generate_post_text(app, persona, recent, seed=SEED + self.drafts)


def fresh_app(folder: Path, model: Path, persona: str, weight: float) -> App:
    """A nowbot of its own on SQLite in `folder`, `model` serving `persona`'s text."""
    app = open_app(Settings(data_dir=folder, review_weight=weight, campaign_persona=persona,
                            campaign_hashtag="", review_mode=True))
    with app.sessions.begin() as session:
        get_or_create_persona(session, persona)
    registry = Registry(app.sessions, app.artifacts_dir)
    version = registry.save_version(
        ModelKind.TEXT, persona, lambda into: shutil.copytree(model, into, dirs_exist_ok=True),
        {"bpc": 0.0}, {"personas": [persona]})
    registry.promote_if_better(version.id, "bpc")
    return app


def loop_cost(app: App, persona: str, post_id: int) -> float:
    """Seconds the loop adds to one draft: finding the serving review model and scoring
    `COST_CANDIDATES` candidates with it (the draft's kept candidates, repeated)."""
    from sqlalchemy import select

    from storage.outbox import Post
    from storage.reviews import DraftCandidate

    with app.sessions() as session:
        item = session.get_one(Post, post_id).generated_item_id
        kept = list(session.scalars(select(DraftCandidate)
                                    .where(DraftCandidate.generated_item_id == item)))
    texts = [c.text for c in kept] * (COST_CANDIDATES // max(len(kept), 1) + 1)
    texts = texts[:COST_CANDIDATES]
    start = time.perf_counter()
    review = reviewing.approving(app, persona)
    if review is not None:
        review.model.approval(texts)
    return time.perf_counter() - start


def side(folder: Path, model: Path, persona: str, reviewer: Reviewer, weight: float,
         drafts: int) -> dict[str, Any]:
    """One reviewer's `drafts` drafts with the loop at `weight` (0: off)."""
    app = fresh_app(folder, model, persona, weight)
    runtime = Runtime(app, Seeded(), {})  # type: ignore[arg-type]
    who = f"bench:{reviewer.name}"
    credit, texts, prepare, cost, verdicts = [], [], [], [], []
    for n in range(drafts):
        start = time.perf_counter()
        post = posts.make_campaign_post(runtime, persona)
        prepare.append(time.perf_counter() - start)
        if weight:
            cost.append(loop_cost(app, persona, post.id))
        action, edited = reviewer.judge(post.text)
        if action == "edit":
            assert edited is not None
            posts.edit_text(app, post.id, edited, who)
        posts.review(app, runtime.generator, post.id, "reject" if action == "reject"
                     else "approve", who)
        credit.append(CREDIT[action])
        texts.append(post.text)
        if weight and (n + 1) % ROUND == 0:
            start = time.perf_counter()
            outcome = reviewing.train(app, persona)
            verdicts.append({"after": n + 1, "verdict": outcome.verdict.reason,
                             "seconds": round(time.perf_counter() - start, 3)})
    state = reviewing.state(app, persona)
    app.engine.dispose()
    return {
        "rounds": [round(float(np.mean(credit[i:i + ROUND])), 3)
                   for i in range(0, drafts, ROUND)],
        "last_30": round(float(np.mean(credit[-LAST:])), 3),
        "prepare_s": round(float(np.mean(prepare)), 4),
        "loop_cost_s": round(float(np.mean(cost)), 5) if cost else None,
        "verdicts": verdicts,
        "learned": state.learned() if weight else None,
        "texts": texts,
    }


def bootstrap(values: list[float], statistic: Callable[[np.ndarray], float]) -> float:
    """Bootstrap standard deviation of `statistic` over resamples of `values`."""
    rng = np.random.default_rng(0)
    data = np.asarray(values, dtype=float)
    return float(np.std([statistic(data[rng.integers(0, len(data), len(data))])
                         for _ in range(BOOTSTRAP)]))


def quality(texts: list[str], real: list[str]) -> dict[str, dict[str, float]]:
    """The sentences benchmark's fluency and distinguishability figures of `texts`, each with
    its bootstrap noise (standard deviation)."""
    parsed = grammar(texts, detail=True)["tweets"]
    words = np.asarray([p["words"] for p in parsed], dtype=float)
    unlinked = np.asarray([p["unlinked"] for p in parsed], dtype=float)
    whole = [float(p["words"] > 0 and p["unlinked"] == 0) for p in parsed]
    index = list(range(len(parsed)))
    share = lambda at: float(unlinked[at.astype(int)].sum() / max(words[at.astype(int)].sum(), 1))  # noqa: E731
    rng = np.random.default_rng(1)
    aucs = [distinguishability([texts[i] for i in rng.integers(0, len(texts), len(texts))], real)
            for _ in range(5)]
    return {
        "unlinked_share": {"value": share(np.asarray(index)), "noise": bootstrap(index, share)},
        "whole_parse_share": {"value": float(np.mean(whole)), "noise": bootstrap(whole, np.mean)},
        "auc": {"value": distinguishability(texts, real), "noise": float(np.std(aucs))},
    }


def compare(on: dict[str, dict[str, float]], off: dict[str, dict[str, float]]
            ) -> dict[str, Any]:
    """Per figure: on minus off, the noise of that difference, and whether on is worse by
    more than twice it (higher is worse for unlinked words and AUC, lower for whole parses)."""
    found = {}
    for name, worse_sign in (("unlinked_share", 1), ("whole_parse_share", -1), ("auc", 1)):
        change = on[name]["value"] - off[name]["value"]
        noise = float(np.hypot(on[name]["noise"], off[name]["noise"]))
        found[name] = {"on": round(on[name]["value"], 3), "off": round(off[name]["value"], 3),
                       "change": round(change, 3), "noise": round(noise, 3),
                       "worse_beyond_noise": bool(worse_sign * change > 2 * noise)}
    return found


def corpora(names: list[str], minutes: float) -> dict[str, tuple[Path, list[PersonaTweet],
                                                                  list[PersonaTweet]]]:
    """Each persona's model folder (trained when missing), training and held-out tweets."""
    val_fraction = TextConfig.cpu().val_fraction
    found = {}
    for name in names:
        if name == DEMO_PERSONA:
            tweets = [(DEMO_PERSONA, t) for t in demo_posts()]
        else:
            (path,) = corpus_files([name])
            tweets = load_corpus(path)
        if not (WORK / name / "metrics.json").exists():
            train(tweets, minutes, WORK / name)
        found[name] = (WORK / name, *split_by_tweet(tweets, val_fraction))
    return found


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--drafts", type=int, default=100, help="drafts per reviewer and side")
    options.add_argument("--persona", action="append", help="persona (corpus stem or "
                         f"{DEMO_PERSONA}; default: {', '.join(REPORTED)})")
    options.add_argument("--weights", type=float, nargs="+",
                         help="loop weights to try (default: the settings' NOWBOT_REVIEW_WEIGHT)")
    options.add_argument("--minutes", type=float, default=3.0,
                         help="training minutes of a persona model not trained yet")
    args = options.parse_args()
    parser()  # Link Grammar first: a missing install stops the run before any drafting
    logging.getLogger("nowbot").setLevel(logging.WARNING)
    weights = args.weights or [Settings().review_weight]
    results: dict[str, Any] = {}
    met: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, _, val) in corpora(args.persona or list(REPORTED),
                                                      args.minutes).items():
            real = [t for _, t in val][:200]
            results[name] = {}
            judges = [questions_reviewer()]
            for reviewer in judges:
                where = Path(tmp) / f"{name}-{reviewer.name}"
                off = side(where / "off", model, name, reviewer, 0.0, args.drafts)
                if reviewer.name == "questions":  # the editor's drafts: no edit changed them
                    judges += drafted_reviewers(off["texts"])
                off_quality = quality(off["texts"], real)
                entry: dict[str, Any] = {"taste": reviewer.taste, "off": _brief(off)}
                for weight in weights:
                    on = side(where / f"on-{weight:g}", model, name, reviewer, weight,
                              args.drafts)
                    gain = on["last_30"] - off["last_30"]
                    cost = on["loop_cost_s"] / off["prepare_s"]
                    figures = compare(quality(on["texts"], real), off_quality)
                    entry[f"on_{weight:g}"] = {**_brief(on), "last_30_gain": round(gain, 3),
                                               "cost_share": round(cost, 4),
                                               "quality": figures}
                    key = f"{name}/{reviewer.name}/{weight:g}"
                    met[f"{key}: +25 points"] = gain >= 0.25
                    met[f"{key}: quality within noise"] = not any(
                        f["worse_beyond_noise"] for f in figures.values())
                    met[f"{key}: cost under 10%"] = cost < 0.10
                    print(f"{key}: last 30 {on['last_30']:.2f} vs {off['last_30']:.2f} "
                          f"({gain:+.2f}), cost {cost:.1%}", flush=True)
                results[name][reviewer.name] = entry
    save("review_loop", {"drafts": args.drafts, "round": ROUND, "weights": weights,
                         "results": results, "targets_met": met,
                         "all_targets_met": all(met.values())})


def _brief(side_result: dict[str, Any]) -> dict[str, Any]:
    """A side's figures without its texts, with its first and last three drafts."""
    texts = side_result["texts"]
    return {**{k: v for k, v in side_result.items() if k != "texts"},
            "first_drafts": texts[:3], "last_drafts": texts[-3:]}


if __name__ == "__main__":
    main()
