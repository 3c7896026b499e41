"""The reviewer-learning loop (issue 27): a campaign draft's candidates and every decision on it
are kept; an edit counts as half an approval; the review model's gate (no better than chance,
not promoted); with no or too few decisions the ranking is unchanged, a serving model changes
it and switching the loop off restores it; approved and edited texts join the persona's
fine-tuning data unless left out; the scheduled job and `nowbot review-model`."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import select

from bot import generation, jobs
from bot.app import App, open_app
from bot.core import posts, reviewing
from bot.core.posts import make_campaign_post
from bot.core.runtime import Runtime
from bot.generation import GeneratedText
from bot.platforms.catalog import configured_publishers
from conftest import cli_runner
from models.registry import Registry
from models.review.texts import reviewed_texts
from models.review.training import examples, label
from models.text.data import load_tweets
from models.text.writing import write_draft
from storage.outbox import GeneratedItem, Post
from storage.registry import ModelVersion
from storage.reviews import DraftCandidate, ReviewDecision
from text_corpus import store
from text_models import write_text_model

CAMPAIGN = "ada"  # a persona the tiny text model speaks as
REVIEWER = "ana@example.org"
HASHTAG = " #siggraphNOW"  # the settings' campaign hashtag, appended to every post
FILLER = "launch orbit engines booster landing fuel crew window pad countdown".split()


@pytest.fixture
def loop_app(app: App) -> App:
    """`app` (each database) with `CAMPAIGN`'s campaign, a real tiny text model serving it
    (`write_text_model`), 64 candidates a post and a review model from 10 judged drafts."""
    store(app, {CAMPAIGN: 3})
    registry = Registry(app.sessions, app.artifacts_dir)
    version = registry.save_version("text", "all", write_text_model, {"bpc": 2.0},
                                    {"personas": ["ada", "bob"]})
    assert registry.promote_if_better(version.id, "bpc").promoted
    return replace(app, settings=app.settings.model_copy(update={
        "campaign_persona": CAMPAIGN, "text_candidates_post": 64, "review_min_decisions": 10}))


@dataclass
class Scripted:
    """Writes the given texts in turn as the serving text version: drafts whose words a test
    chooses (the text model's part; what is tested is what happens to them)."""

    texts: Iterator[str]

    def generate_post_text(self, app: App, persona: str, recent: list[str]) -> GeneratedText:
        version = Registry(app.sessions, app.artifacts_dir).serving("text", "all")
        assert version is not None
        return GeneratedText(next(self.texts), -1.0, version.id)


def runtime(app: App, generator: Any = generation) -> Runtime:
    return Runtime(app=app, generator=generator, publishers=configured_publishers(app.settings))


def judge(app: App, post: Post, action: str) -> None:
    """`REVIEWER`'s decision on `post` through the use cases: approve, reject, regenerate,
    unapprove, or "edit:NEW TEXT"."""
    if action.startswith("edit:"):
        posts.edit_text(app, post.id, action.removeprefix("edit:"), REVIEWER)
    elif action == "unapprove":
        posts.unapprove(app, post.id, REVIEWER)
    else:
        posts.review(app, generation, post.id, action, REVIEWER)  # type: ignore[arg-type]


def reviewed(app: App, drafts: list[tuple[str, list[str]]]) -> list[Post]:
    """A campaign post for each (text, actions) of `drafts`, judged by those actions in turn."""
    made = []
    writer = runtime(app, Scripted(iter([text for text, _ in drafts])))
    for _, actions in drafts:
        post = make_campaign_post(writer)
        for action in actions:
            judge(app, post, action)
        made.append(post)
    return made


def taste(rng: random.Random, count: int, liked: str, disliked: str) -> list[tuple[str, list[str]]]:
    """`count` drafts of filler words, each with `liked` (approved) or `disliked` (rejected)."""
    drafts = []
    for _ in range(count):
        good = rng.random() < 0.5
        words = [*rng.sample(FILLER, 4), liked if good else disliked]
        rng.shuffle(words)
        drafts.append((" ".join(words), ["approve" if good else "reject"]))
    return drafts


def decisions(app: App) -> list[tuple[Any, ...]]:
    with app.sessions() as session:
        return [tuple(row) for row in session.execute(
            select(ReviewDecision.post_id, ReviewDecision.generated_item_id,
                   ReviewDecision.decision, ReviewDecision.text_before, ReviewDecision.text_after,
                   ReviewDecision.reviewer).order_by(ReviewDecision.id))]


def test_a_campaign_draft_keeps_its_candidates_and_why_it_was_chosen(loop_app: App) -> None:
    post = make_campaign_post(runtime(loop_app))
    with loop_app.sessions() as session:
        item = session.get_one(GeneratedItem, post.generated_item_id)
        kept = session.scalars(select(DraftCandidate).where(
            DraftCandidate.generated_item_id == item.id).order_by(DraftCandidate.rank)).all()
    assert post.text == item.text + HASHTAG
    assert 1 < len(kept) <= 16 and len({c.rank for c in kept}) == len(kept)
    assert [c.text for c in kept if c.chosen] == [item.text]
    assert kept[0].rank == 0  # the editor's best is always kept, with the others' sample
    assert all({"fluency", "words", "length", "total"} <= set(c.scores) for c in kept)
    why = item.details["why"]
    assert why["candidates"] == 64 and "approval" not in why["scores"]
    line = reviewing.why_this_one(item)
    assert line is not None and line.startswith("best of 64 candidates by fluency and voice")
    assert line.endswith("the review model did not weigh in")


def test_every_decision_on_a_draft_is_kept_and_survives_a_restart(loop_app: App) -> None:
    approved, rejected, edited, regenerated = (make_campaign_post(runtime(loop_app))
                                               for _ in range(4))
    judge(loop_app, approved, "approve")
    judge(loop_app, approved, "unapprove")
    judge(loop_app, rejected, "reject")
    judge(loop_app, edited, "edit:Rewritten by a person, shorter")
    judge(loop_app, edited, "approve")
    judge(loop_app, regenerated, "regenerate")
    expected = [
        (approved.id, approved.generated_item_id, "approved", approved.text, None, REVIEWER),
        (approved.id, approved.generated_item_id, "unapproved", approved.text, None, REVIEWER),
        (rejected.id, rejected.generated_item_id, "rejected", rejected.text, None, REVIEWER),
        (edited.id, edited.generated_item_id, "edited", edited.text,
         "Rewritten by a person, shorter", REVIEWER),
        (edited.id, edited.generated_item_id, "approved", "Rewritten by a person, shorter", None,
         REVIEWER),
        (regenerated.id, regenerated.generated_item_id, "regenerated", regenerated.text, None,
         REVIEWER),
    ]
    assert decisions(loop_app) == expected
    restarted = open_app(loop_app.settings)
    try:
        assert decisions(restarted) == expected
        with restarted.sessions() as session:  # the new text has candidates of its own
            now = session.get_one(Post, regenerated.id)
            assert now.generated_item_id != regenerated.generated_item_id
            chosen = session.scalars(select(DraftCandidate.text).where(
                DraftCandidate.generated_item_id == now.generated_item_id,
                DraftCandidate.chosen)).all()
            assert [text + HASHTAG for text in chosen] == [now.text]
    finally:
        restarted.engine.dispose()


def test_an_edit_counts_as_half_an_approval(loop_app: App) -> None:
    assert label(["approved"]) == 1.0
    assert label(["edited", "approved"]) == label(["edited"]) == 0.5
    assert label(["rejected"]) == label(["regenerated"]) == label(["edited", "rejected"]) == 0.0
    assert label(["approved", "unapproved"]) is None  # taken back, not decided again
    assert label(["approved", "unapproved", "approved"]) == 1.0
    reviewed(loop_app, [
        ("approved as written", ["approve"]),
        ("edited then approved", ["edit:edited by hand", "approve"]),
        ("edited only", ["edit:edited by hand, not yet approved"]),
        ("rejected", ["reject"]),
        ("regenerated", ["regenerate"]),
        ("approval taken back", ["approve", "unapprove"]),
    ])
    drafts = {"approved as written": 1.0, "edited then approved": 0.5, "edited only": 0.5,
              "rejected": 0.0, "regenerated": 0.0}
    learned = {e.text: e.label for e in examples(loop_app.sessions, CAMPAIGN)}
    assert {text: learned.get(text) for text in [*drafts, "approval taken back"]} == {
        **drafts, "approval taken back": None}


def test_a_review_model_no_better_than_chance_is_not_promoted(loop_app: App) -> None:
    rng = random.Random(0)
    for _ in range(3):  # decisions that have nothing to do with the text, three times
        reviewed(loop_app, [(" ".join(rng.sample(FILLER, 5)),
                             [rng.choice(["approve", "reject"])]) for _ in range(30)])
        outcome = reviewing.train(loop_app)
        assert not outcome.verdict.promoted, outcome.verdict.reason
        assert outcome.verdict.reason.startswith("rejected: no better than chance")
        assert reviewing.approving(loop_app, CAMPAIGN) is None
        loop = reviewing.reset(loop_app, REVIEWER)
        assert loop.decisions == 0 and loop.latest is not None and loop.serving is None


def test_a_learnable_taste_is_promoted_and_said_in_words(loop_app: App) -> None:
    reviewed(loop_app, taste(random.Random(1), 30, "rocket", "traffic"))
    outcome = reviewing.train(loop_app)
    assert outcome.verdict.promoted, outcome.verdict.reason
    assert outcome.verdict.reason.startswith("promoted on ")
    likes, dislikes = outcome.metrics["likes"], outcome.metrics["dislikes"]
    assert likes[0] == '"rocket"' and dislikes[0] == '"traffic"'
    loop = reviewing.state(loop_app)
    assert loop.active and loop.serving is not None and loop.serving.version == outcome.version
    assert loop.learned().startswith('reviewers approve more: "rocket"')
    assert '"traffic"' in loop.learned().split("approve less:")[1]
    again = reviewing.train(loop_app)  # nothing new: no better than the model serving
    assert not again.verdict.promoted and f"v{outcome.version}" in again.verdict.reason
    assert reviewing.state(loop_app).serving.id == loop.serving.id  # type: ignore[union-attr]


def _text(app: App, seed: int = 7) -> GeneratedText:
    return generation.generate_post_text(app, CAMPAIGN, [], seed=seed)


def test_with_no_or_too_few_decisions_the_ranking_is_unchanged(loop_app: App) -> None:
    before = _text(loop_app)
    _, sampler, editor = generation.serving_generator(loop_app, CAMPAIGN)
    plain = generation.tweet_rules(loop_app, candidates=64)  # the editor alone, no approval
    assert write_draft(sampler, editor, CAMPAIGN, rules=plain, seed=7).chosen.text == before.text
    reviewed(loop_app, taste(random.Random(2), 9, "rocket", "traffic"))  # 9 of 10 needed
    outcome = reviewing.train(loop_app)
    assert (outcome.version, outcome.verdict.reason) == (
        None, "not trained: 9 judged drafts of 10 needed")
    assert reviewing.state(loop_app).summary().startswith("learning: 9 decisions kept for ada")
    assert _text(loop_app) == before and "approval" not in before.why["scores"]
    reviewing.switch(loop_app, False, REVIEWER)
    assert _text(loop_app) == before


def test_a_serving_review_model_changes_the_ranking_and_off_restores_it(loop_app: App) -> None:
    strong = replace(loop_app, settings=loop_app.settings.model_copy(update={"review_weight": 3}))
    before = _text(strong)
    assert "?" not in before.text
    rng = random.Random(4)  # reviewers who want questions
    reviewed(strong, [(" ".join(rng.sample(FILLER, 5)) + ("?" if asked else ""),
                       ["approve" if asked else "reject"])
                      for asked in (rng.random() < 0.5 for _ in range(30))])
    assert reviewing.train(strong).verdict.promoted
    assert reviewing.state(strong).likes[0] == "questions"
    after = _text(strong)
    assert "?" in after.text and after.why["scores"]["approval"] > 0.5
    assert after.why["review_version"] == 1 and after.why["weight"] == 3
    line = reviewing.why_this_one(GeneratedItem(kind="text", details={"why": after.why}))
    assert line is not None and re.search(r"and the reviewers' taste: \d+% likely approved", line)
    reviewing.switch(strong, False, REVIEWER)
    assert _text(strong) == before  # off: as if no review model existed
    reviewing.switch(strong, True, REVIEWER)
    assert _text(strong).text == after.text


def test_approved_and_edited_texts_join_the_fine_tuning_data(loop_app: App) -> None:
    made = reviewed(loop_app, [
        ("approved as written", ["approve"]),
        ("edited then approved", ["edit:rewritten then approved", "approve"]),
        ("edited only", ["edit:rewritten, waiting"]),
        ("rejected", ["reject"]),
        ("edited then rejected", ["edit:rewritten, then rejected", "reject"]),
        ("approval taken back", ["approve", "unapprove"]),
    ])
    reviewing.reset(loop_app, REVIEWER)  # about the review model: the texts stay
    wanted = [(CAMPAIGN, made[0].text), (CAMPAIGN, "rewritten then approved"),
              (CAMPAIGN, "rewritten, waiting")]
    assert reviewed_texts(loop_app.sessions) == wanted
    assert reviewed_texts(loop_app.sessions, [CAMPAIGN]) == wanted
    assert reviewed_texts(loop_app.sessions, ["bob"]) == []

    from models.text.train import train_text, with_reviewed
    from test_text_training import TINY

    tweets = load_tweets(loop_app.sessions, [CAMPAIGN])
    assert with_reviewed(loop_app.sessions, tweets) == wanted
    assert with_reviewed(loop_app.sessions, [*tweets, wanted[0]]) == wanted[1:]  # no twice
    registry = Registry(loop_app.sessions, loop_app.artifacts_dir)
    store(loop_app, {CAMPAIGN: 40})
    for joins, count in ((False, 0), (True, 3)):
        outcome = train_text(registry, loop_app.sessions, loop_app.artifacts_dir, [CAMPAIGN],
                             config=TINY, epochs=1, reviewed=joins)
        assert outcome.metrics["reviewed_texts"] == count
        _, editor = _loaded(registry, registry.versions("text")[0])
        # what a version learned from is never posted again (its copy index)
        assert [editor.copies.copies(text) for _, text in wanted] == [joins] * 3


def _loaded(registry: Registry, version: ModelVersion) -> Any:
    """The sampler and editor of `version`."""
    from models.text.artifact import load

    return load(registry.local_path(version))


def test_the_train_text_job_leaves_reviewed_texts_out_when_the_settings_say(
        loop_app: App) -> None:
    reviewed(loop_app, [("approved as written", ["approve"])])
    store(loop_app, {CAMPAIGN: 40})
    quick = replace(loop_app, settings=loop_app.settings.model_copy(update={
        "train_text_minutes": 0.05, "review_texts_in_training": False}))
    jobs.configure(runtime(quick))
    try:
        assert jobs.train_text()
    finally:
        jobs.configure(None)
    version = Registry(quick.sessions, quick.artifacts_dir).versions("text")[0]
    assert version.target == CAMPAIGN and version.metrics["reviewed_texts"] == 0


def test_the_scheduled_job_trains_the_campaigns_review_model(loop_app: App) -> None:
    jobs.configure(runtime(loop_app))
    try:
        assert jobs.train_review_model() is None  # no decisions yet: nothing trained
        reviewed(loop_app, taste(random.Random(1), 30, "rocket", "traffic"))
        version = jobs.train_review_model()
    finally:
        jobs.configure(None)
    serving = reviewing.state(loop_app).serving
    assert version == 1 and serving is not None and serving.version == 1


def test_review_model_commands(loop_app: App) -> None:
    probe = ("import sys, bot.cli; "
             "print(sorted(m for m in ('sklearn', 'numpy') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "[]"  # scikit-learn loads with a training, not with help
    nowbot = cli_runner(loop_app)
    first = nowbot("review-model", "show", "--campaign", CAMPAIGN)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "review loop learning: 0 decisions kept for ada, a model is trained from 20 judged "
        "drafts; ranking unchanged until then",
        "nothing learned yet",
        "decisions kept: 0 since the last reset (a model is trained from 20 judged drafts)",
        "serving: none yet",
        "newest training: none yet",
    ]
    reviewed(loop_app, taste(random.Random(1), 30, "rocket", "traffic"))
    trained = nowbot("review-model", "train", "-c", CAMPAIGN)
    assert trained.exit_code == 0, trained.output
    said = trained.stdout.splitlines()
    assert said[0].startswith("review model ada v1 promoted on ")
    assert said[1].startswith('reviewers approve more: "rocket"')
    shown = nowbot("review-model", "show", "-c", CAMPAIGN).stdout.splitlines()
    assert shown[0] == ("review loop on: review model v1 of ada weighs 10, learned from 30 "
                        "judged drafts")
    assert shown[2:4] == ["decisions kept: 30 since the last reset (a model is trained from 20 "
                          "judged drafts)", "serving: v1"]
    assert shown[4].startswith("newest training: v1, promoted on ")
    off = nowbot("review-model", "off", "-c", CAMPAIGN)
    assert off.stdout.startswith("review loop off for ada (switched off by an operator)")
    assert reviewing.approving(loop_app, CAMPAIGN) is None
    on = nowbot("review-model", "on", "-c", CAMPAIGN)
    assert on.stdout.startswith("review loop on: review model v1")
    reset = nowbot("review-model", "reset", "-c", CAMPAIGN, "--yes")
    assert reset.exit_code == 0 and reset.stdout.startswith("review loop learning: 0 decisions")
    with loop_app.sessions() as session:
        loop_row = session.scalars(select(ReviewDecision.reviewer)).all()
    assert set(loop_row) == {REVIEWER}  # kept, only forgotten by the model
    unknown = nowbot("review-model", "show", "-c", "zed")
    assert unknown.exit_code == 1
    assert "no persona named zed; `nowbot corpus list` shows them" in unknown.output
