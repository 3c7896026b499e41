"""Training data: the split by tweet, packing with boundaries and persona ids, and the windows
training reads."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import ModelError
from models.text.data import pack, split_by_tweet, windows
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


def test_windows_are_slices_of_the_stream_with_next_symbol_targets() -> None:
    tweets = [("ada" if i % 3 else "bob", f"tweet {i} of {i * 37 % 101}") for i in range(60)]
    vocab = Vocab.build(text for _, text in tweets)
    chars, owners = pack(tweets, vocab, ["ada", "bob"])
    slices = np.lib.stride_tricks.sliding_window_view(chars, 9)  # every window + next symbol
    starts = set()
    for (inputs, personas), targets, weights in windows(chars, owners, 8, 5, seed=0).take(60):
        inputs, personas, targets, weights = (
            np.asarray(t) for t in (inputs, personas, targets, weights)
        )
        assert inputs.shape == targets.shape == weights.shape == personas.shape == (5, 8)
        for row in range(5):
            piece = np.append(inputs[row], targets[row][-1])
            # A slice of the stream (some slices occur twice), with the symbols' personas ...
            (at,) = [at for at in np.flatnonzero((slices == piece).all(axis=1))
                     if (personas[row] == owners[at : at + 8]).all()][:1]
            assert (targets[row][:-1] == inputs[row][1:]).all()  # ... predicting the next one
            starts.add(int(at))
        # Predicting the start of the next tweet is free: weight 0 there and only there.
        assert ((weights == 0) == (targets == BOS)).all()
    assert len({at % 8 for at in starts}) == 8  # windows start anywhere, not on a grid
