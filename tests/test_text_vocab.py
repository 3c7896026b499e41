"""The character vocabulary: unknown characters, emoji, boundary symbols."""

from __future__ import annotations

from models.text.vocab import BOS, EOS, UNK, Vocab


def test_rare_and_unseen_characters_become_unknown() -> None:
    vocab = Vocab.build(["aab", "abz"], min_count=2)
    assert vocab.chars == ("a", "b")
    assert vocab.encode("az?") == [vocab.encode("a")[0], UNK, UNK]
    assert vocab.decode(vocab.encode("ab✈")) == "ab\ufffd"


def test_emoji_are_single_characters() -> None:
    vocab = Vocab.build(["go 🚀🚀", "🚀!"])
    ids = vocab.encode("🚀!")
    assert len(ids) == 2 and UNK not in ids
    assert vocab.decode(ids) == "🚀!"


def test_tweets_are_framed_by_start_and_end_symbols() -> None:
    vocab = Vocab.build(["hi"])
    ids = vocab.encode_tweet("hi")
    assert ids[0] == BOS and ids[-1] == EOS and vocab.decode(ids) == "hi"


def test_vocab_survives_json() -> None:
    vocab = Vocab.build(["héllo 😀 wörld"])
    assert Vocab.from_json(vocab.to_json()) == vocab

