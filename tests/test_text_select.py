"""Candidate selection: copies, recent posts, mentions, links, blocklist, ranking."""

from __future__ import annotations

import pytest

from models.errors import ModelError
from models.text.sampler import Sample
from models.text.select import CopyIndex, Editor, Rules, choose
from models.text.words import WordModel, defects
from models.text.writing import choose_each

LONG = "We are going to build the biggest rocket ever made and fly it to Mars next year"


def _samples(*texts: str) -> list[Sample]:
    return [Sample(text, -float(i), True) for i, text in enumerate(texts)]


def test_long_runs_of_a_training_tweet_are_copies() -> None:
    index = CopyIndex.build([LONG, "Merry Christmas to all!"])
    assert index.copies("wow " + LONG[10:50] + " wow")  # 40 characters
    assert not index.copies("wow " + LONG[10:49] + " wow")  # 39
    assert index.copies("Merry Christmas to you")  # 60% of a short tweet
    assert not index.copies("Merry Xmas")


def test_choose_ranks_by_likelihood_and_says_why_others_failed() -> None:
    index = CopyIndex.build([LONG])
    samples = [
        Sample("a fine original thought", -2.0, True),
        Sample("an even better original thought", -1.0, True),
        Sample(LONG, -0.1, True),
        Sample("this says darn loudly", -0.5, True),
        Sample("hello again everyone", -0.2, True),
        Sample("ok", -0.3, True),
        Sample("a likely tweet that never ended and was cut at the limi", -0.05, False),
    ]
    accepted, rejected, _ = choose(
        samples, Editor(index), Rules(blocklist=("darn",)), recent=["Hello  again everyone"]
    )
    assert [s.text for s in accepted] == [
        "an even better original thought", "a fine original thought",
        "a likely tweet that never ended and was cut at the limi",
    ]
    assert rejected == {
        "copies a training tweet": 1, "blocked word": 1, "repeats a recent post": 1, "too short": 1,
    }


def test_mentions_and_links_are_removed_unless_allowed() -> None:
    index = CopyIndex.build([])
    text = "@elon see https://t.co/x this rocket launch"
    (kept,), _, _ = choose(_samples(text), Editor(index), Rules())
    assert kept.text == "see this rocket launch"
    (kept,), _, _ = choose(_samples(text), Editor(index), Rules(allow_mentions=True, allow_links=True))
    assert kept.text == text


def test_copy_index_round_trips(tmp_path) -> None:
    CopyIndex.build([LONG]).save(tmp_path / "index.npz")
    assert CopyIndex.load(tmp_path / "index.npz").copies(LONG)


def test_no_acceptable_candidate_is_a_clear_error() -> None:
    groups = [_samples(*[LONG] * 16), _samples(*[LONG] * 16)]
    with pytest.raises(ModelError, match="no acceptable tweet among 32 candidates.*copies"):
        choose_each(groups, Editor(CopyIndex.build([LONG])), Rules())


PERSONA_TWEETS = [("ada", text) for text in [
    "The rocket is ready for launch.", "We land the booster at sea tonight.",
    "The engines are firing and the crew is ready.", "Launch window opens at noon.",
]]


def test_ranking_prefers_an_ended_well_formed_candidate() -> None:
    editor = Editor(CopyIndex.build([]), WordModel.fit(PERSONA_TWEETS))
    candidates = [
        Sample("The rocket is ready for the", -0.1, True),  # ends on a word never ending a tweet
        Sample("the booster is ready tonight.", -0.2, True),  # lower-case start
        Sample("Launch window opens at sea -", -0.3, True),  # dangling separator
        Sample("The engines are firing at noon and the crew", -0.05, False),  # cut at the limit
        Sample("The crew is ready (for launch.", -0.4, True),  # unbalanced bracket
        Sample("The booster is ready for launch tonight.", -0.9, True),
    ]
    ranked = editor.rank(candidates, "ada", Rules())
    assert ranked[0].text == "The booster is ready for launch tonight."
    # Switched off, the most likely ended candidate wins, whatever its form.
    assert editor.rank(candidates, "ada", Rules(editor=False))[0].text.startswith("The rocket")


def test_word_model_prefers_the_personas_word_order() -> None:
    words = WordModel.fit(PERSONA_TWEETS)
    in_order, shuffled = words.logprob("ada", ["The crew is ready.", "Ready crew the is."])
    assert in_order > shuffled
    assert defects("The rocket is ready for the", True, words, "ada") == ["fragment"]
    assert defects("The roCket is ready.", True, words, "ada") == ["odd capitals inside a word"]
    cased = WordModel.fit([("ada", "SpaceX is ready.")])
    assert defects("SpaceX flies.", True, cased, "ada") == []  # the persona writes it so


def test_candidates_are_not_sampled_far_past_a_personas_usual_length() -> None:
    short = [("ada", "Short and sweet, as ever " + str(i)) for i in range(99)]  # 26-27 chars
    words = WordModel.fit([*short, ("ada", "x" * 250), ("bob", "y" * 150)])
    editor = Editor(CopyIndex.build([]), words)
    assert words.usual_max_length("ada") == 40  # 99% within the 20-39 bucket; the outlier aside
    assert editor.length_limit(["ada"]) == 40
    assert editor.length_limit(["ada"], prompt="p" * 30) == 70  # room to write after a prompt
    assert editor.length_limit(["ada", "bob"]) == 160  # a blend: the longer of the two
    assert editor.length_limit(["nobody"]) == Editor(CopyIndex.build([])).length_limit(["ada"]) == 280
