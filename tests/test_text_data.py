"""Training data: the split by tweet and packing with boundaries and persona ids."""

from __future__ import annotations

import pytest

from models.errors import ModelError
from models.text.data import pack, split_by_tweet
from models.text.vocab import BOS, EOS, Vocab


def test_split_holds_out_by_tweet_and_refuses_a_single_tweet() -> None:
    tweets = [("ada", f"tweet number {i}") for i in range(200)]
    train, val = split_by_tweet(tweets, 0.1)
    assert 5 <= len(val) <= 40 and not set(train) & set(val)
    assert split_by_tweet(tweets[:150], 0.1)[1] == [t for t in val if t in tweets[:150]]
    with pytest.raises(ModelError, match="too few tweets"):
        split_by_tweet(tweets[:1], 0.1)


def test_packing_frames_each_tweet_and_tags_its_persona() -> None:
    vocab = Vocab.build(["ab", "c"])
    chars, owners = pack([("bob", "ab"), ("ada", "c")], vocab, ["ada", "bob"])
    assert chars.tolist() == [BOS, *vocab.encode("ab"), EOS, BOS, *vocab.encode("c"), EOS]
    assert owners.tolist() == [1, 1, 1, 1, 0, 0, 0]
