"""Writing tweets: each the best of its own candidates, guided by word order, one language per
tweet, and a persona's names kept."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.text.batch import Request, sample
from models.text.guide import Guide, mixed_words
from models.text.lexicon import Lexicon, split_words
from models.text.sampler import Sample
from models.text.select import CopyIndex, Editor, Rules
from models.text.vocab import EOS, Vocab
from models.text.words import WordModel, tokens
from models.text.writing import choose_each, write
from tests.text_models import uniform_sampler

ENGLISH = ["the rocket is ready", "we love the new car", "the car is fast and ready",
           "we launch the rocket today"]
GERMAN = ["die rakete ist bereit", "wir lieben das neue auto", "das auto ist schnell",
          "wir starten die rakete heute"]
RULES = Rules(candidates=16, min_chars=1, real_words=True)
VOCAB = Vocab.build(["abcdefghijklmnopqrstuvwxyz ."])  # words and their ends, nothing else


def _writer(tweets: list[str], languages: list[str]) -> tuple:
    """A uniform sampler whose word tree holds `tweets`' words, and an editor with the word
    model and guide of those tweets (persona "ada", writing in `languages`)."""
    words = {w for t in tweets for w in split_words(t)}
    lexicon = Lexicon.build({"ada": words}, {lang: set() for lang in languages},
                            {"ada": languages}, VOCAB)
    sampler = uniform_sampler(lexicon, ("ada",), VOCAB)
    sampler.out_b[[EOS, *VOCAB.encode(".")]] = -3.0  # tweets of a few words, not one
    model = WordModel.fit([("ada", t) for t in tweets * 5])
    return sampler, Editor(CopyIndex.build([]), model, Guide(model, lexicon, english=0.0))


def test_a_request_of_fifty_tweets_samples_candidates_for_each() -> None:
    sampler, editor = _writer(ENGLISH, ["en"])
    groups = sample(sampler, Request("ada", 50, 4, max_chars=30), guide=editor.guide, seed=0)
    assert len(groups) == 50 and all(len(group) == 4 for group in groups)
    tweets = write(sampler, editor, "ada", 50, rules=RULES, seed=0)
    assert len(tweets) == 50 and len({t.text for t in tweets}) == 50


def test_each_tweet_is_the_best_of_its_own_group_not_the_best_of_all() -> None:
    editor = Editor(CopyIndex.build([]))
    rules = Rules(editor=False, min_chars=1)
    good = [Sample(f"a fine tweet number {i}", -0.1 * i, True) for i in range(3)]
    poor = [Sample("a poor tweet", -5.0, True), Sample("a worse tweet", -9.0, True)]
    chosen = choose_each([good, poor], editor, rules)
    assert [s.text for s in chosen] == ["a fine tweet number 0", "a poor tweet"]


def _order(editor: Editor, tweets: list[Sample]) -> float:
    return float(np.mean(editor.words.order_score("ada", [t.text for t in tweets])))


def test_the_guide_makes_rows_follow_the_personas_word_order() -> None:
    sampler, editor = _writer(ENGLISH, ["en"])
    guided = write(sampler, editor, "ada", 30, rules=RULES, seed=1)
    unguided = write(sampler, editor, "ada", 30, rules=replace(RULES, guide=0.0), seed=1)
    assert _order(editor, guided) > _order(editor, unguided) + 2.0


def test_a_bilingual_persona_writes_each_tweet_in_one_language() -> None:
    sampler, editor = _writer(ENGLISH + GERMAN, ["en", "de"])
    unguided = write(sampler, replace(editor, guide=None), "ada", 30, rules=RULES, seed=2)
    assert sum(mixed_words(t.text, ("en", "de")) > 0 for t in unguided) >= 10  # the test can fail
    tweets = write(sampler, editor, "ada", 30, rules=RULES, seed=2)
    assert not [t.text for t in tweets if mixed_words(t.text, ("en", "de"))]


def test_a_personas_name_survives_the_fluency_weighting() -> None:
    # A name the persona writes often, unknown to general English: its tweets score as well as
    # the same tweet with a common word in its place, and far above the same words shuffled.
    tweets = ["The Gigafactory is ready.", "We love the Gigafactory.", "The new car is ready.",
              "We love the new car.", "Gigafactory tour today."]
    model = WordModel.fit([("ada", t) for t in tweets])
    guide = Guide(model)  # general English's word order too
    named, common, salad = guide.scores("ada", ["We love the Gigafactory.", "We love the factory.",
                                                "Gigafactory the love we."], ended=True)
    assert named >= common and named > salad + 5.0


def test_scoring_a_tweet_as_it_is_written_adds_up_to_scoring_it_whole() -> None:
    # Rows are weighed on the words completed since their last weighing: the pieces must sum
    # to the whole, wherever the cuts fall (sentence ends, unknown words and hashtags included).
    model = WordModel.fit([("ada", t) for t in ENGLISH + ["The Gigafactory is ready. #tesla"]])
    guide = Guide(model)
    seq = tokens("Yeah, the Gigafactory is ready. We love the new car!! #tesla is fast")
    whole = guide.terms("ada", [seq], np.ones(1, np.int64))[0]
    for cut in range(1, len(seq) + 1):
        parts = guide.terms("ada", [seq[:cut], seq], np.asarray([1, cut]))
        assert parts.sum() == pytest.approx(whole)


def test_a_campaign_post_does_not_open_as_a_recent_one() -> None:
    editor = Editor(CopyIndex.build([]))
    rules = Rules(editor=False, min_chars=1)
    group = [Sample("Today I learned that shaders are fun.", -0.1, True),
             Sample("Doors open at nine for the keynote.", -2.0, True)]
    recent = ["Today I learned that the coffee is good."]
    assert choose_each([group], editor, rules)[0].text.startswith("Today")
    assert choose_each([group], editor, rules, recent=recent)[0].text.startswith("Doors")
