"""Only real words: the word tree the sampler walks, with a persona's words and free tokens."""

from __future__ import annotations

import pytest

from models.text.batch import candidates
from models.text.lexicon import Lexicon, is_known, split_words
from tests.text_models import VOCAB, uniform_sampler
OWN = {"ada": {"machine", "learning", "is", "fun", "don't"}, "bob": {"tremendous", "deal"}}
GENERAL = {"en": {"the", "a", "world", "hello"}}


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.build(OWN, GENERAL, {"ada": ["en"], "bob": ["en"]}, VOCAB)


def test_split_words_keeps_alphabetic_words_only() -> None:
    text = "Tesla's #Model3 ships at 4pm, don't miss it! @elon 'Quoted' 3D"
    assert split_words(text) == ["tesla's", "ships", "at", "don't", "miss", "it", "quoted"]
    assert is_known("tesla's", {"tesla"}) and not is_known("teslas", {"tesla"})


def test_sampled_words_are_the_personas_or_the_general_lists(lexicon: Lexicon) -> None:
    tweets = candidates(uniform_sampler(lexicon), "ada", 256, seed=0)
    allowed = OWN["ada"] | GENERAL["en"]
    # (a tweet cut at the length limit may stop inside a word)
    words = [w for t in tweets for w in split_words(t.text)[: None if t.ended else -1]]
    assert len(words) > 200
    assert all(is_known(w, allowed) for w in words), sorted(set(words) - allowed)[:10]
    assert not set(words) & OWN["bob"]  # another persona's words are not this one's
    hashtags = {tag for t in tweets for tag in t.text.split() if tag.startswith("#")}
    assert any(len(tag) > 3 and tag[1:].isalpha() for tag in hashtags)  # hashtags stay free


def test_without_the_constraint_other_words_appear(lexicon: Lexicon) -> None:
    tweets = candidates(uniform_sampler(lexicon), "ada", 8, seed=0, real_words=False)
    allowed = OWN["ada"] | GENERAL["en"]
    assert {w for t in tweets for w in split_words(t.text)} - allowed


def test_a_blend_may_use_both_personas_words(lexicon: Lexicon) -> None:
    sampler = uniform_sampler(lexicon)
    tweets = candidates(sampler, "ada", 256, blend="bob", seed=1)
    words = {w for t in tweets for w in split_words(t.text)[: None if t.ended else -1]}
    assert words & OWN["bob"]
    assert all(is_known(w, OWN["ada"] | OWN["bob"] | GENERAL["en"]) for w in words)


def test_a_prompt_word_is_finished_as_a_known_word(lexicon: Lexicon) -> None:
    tweets = candidates(uniform_sampler(lexicon), "ada", 16, prompt="Machin", seed=2)
    # case-insensitive: "MachinE" is the word too; nothing but its end may follow
    assert all(t.text[:7].lower() == "machine" and not t.text[7:8].isalpha() for t in tweets)


def test_no_mentions_are_written_unless_allowed(lexicon: Lexicon) -> None:
    sampler = uniform_sampler(lexicon)
    assert not any("@" in t.text for t in candidates(sampler, "ada", 16, seed=3, mentions=False))
    assert any("@" in t.text for t in candidates(sampler, "ada", 16, seed=3))


def test_lexicon_round_trips(tmp_path, lexicon: Lexicon) -> None:
    lexicon.save(tmp_path / "lexicon.npz")
    loaded = Lexicon.load(tmp_path / "lexicon.npz")
    assert loaded.personas == ("ada", "bob")
    assert loaded.bits("ada") == lexicon.bits("ada") != lexicon.bits("bob")
    assert (loaded.child_symbol == lexicon.child_symbol).all()
