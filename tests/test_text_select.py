"""Candidate selection: copies, recent posts, mentions, links, blocklist, ranking."""

from __future__ import annotations

import pytest

from models.errors import ModelError
from models.text.sampler import Sample
from models.text.select import CopyIndex, Rules, choose, write_tweets

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
    accepted, rejected = choose(
        samples, index, Rules(blocklist=("darn",)), recent=["Hello  again everyone"]
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
    (kept,), _ = choose(_samples(text), index, Rules())
    assert kept.text == "see this rocket launch"
    (kept,), _ = choose(_samples(text), index, Rules(allow_mentions=True, allow_links=True))
    assert kept.text == text


def test_copy_index_round_trips(tmp_path) -> None:
    CopyIndex.build([LONG]).save(tmp_path / "index.npz")
    assert CopyIndex.load(tmp_path / "index.npz").copies(LONG)


def test_no_acceptable_candidate_is_a_clear_error() -> None:
    class Copycat:
        def generate(self, persona: str, n: int, **_: object) -> list[Sample]:
            return _samples(*[LONG] * n)

    with pytest.raises(ModelError, match="no acceptable tweet among 16 candidates.*copies"):
        write_tweets(Copycat(), CopyIndex.build([LONG]), "ada")  # type: ignore[arg-type]
