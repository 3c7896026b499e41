"""The Kneser-Ney n-gram and its mixture with the GRU: proper distributions, the same numbers in
scoring and in generation, weights that follow the better model."""

from __future__ import annotations

import numpy as np
import pytest

from models.text.ngram import NGram, NGramState
from models.text.vocab import BOS, EOS, PAD, Vocab
from text_corpus import tweets

TEXTS = tweets("ada", 80) + tweets("bob", 80)
VOCAB = Vocab.build(TEXTS)


def _encoded(texts: list[str]) -> list[list[int]]:
    return [VOCAB.encode(text) + [EOS] for text in texts]


@pytest.fixture(scope="module")
def ngram() -> NGram:
    return NGram.fit(_encoded(TEXTS[:150]), 5, len(VOCAB))


def test_generation_distributions_are_proper_and_match_scoring(ngram: NGram) -> None:
    for symbols in _encoded(TEXTS[150:] + ["rockets ✈ win"]):  # held out, one unknown char
        scored, buckets = ngram.probs([symbols])
        state = NGramState(ngram, 2)
        for at, symbol in enumerate(symbols):
            dist = state.distribution()
            assert np.allclose(dist.sum(axis=1), 1.0, atol=1e-5)
            assert (dist[:, [PAD, BOS]] == 0).all()
            assert dist[0, symbol] == pytest.approx(scored[at], rel=1e-5)
            assert state.bucket()[0] == buckets[at]
            state.advance(np.full(2, symbol))


def test_seen_phrases_are_predicted_and_unseen_ones_still_possible(ngram: NGram) -> None:
    state = NGramState(ngram, 1)
    for symbol in VOCAB.encode("booster fue"):
        state.advance(np.asarray([symbol]))
    dist = state.distribution()[0]
    assert dist.argmax() == VOCAB.encode("l")[0] and dist.max() > 0.9
    assert (dist[VOCAB.encode("xz")] > 0).all()  # never seen after "fue", never impossible


def test_mixture_weights_follow_the_better_model(ngram: NGram) -> None:
    bucket = np.repeat([2, 5], 500)
    gru = np.where(bucket == 2, 0.6, 0.05)  # the GRU is better where the n-gram knows little
    counted = np.where(bucket == 2, 0.1, 0.7)
    ngram.fit_weights(gru, counted, bucket)
    assert ngram.weights[2] > 0.9 and ngram.weights[5] < 0.1
    mixed = ngram.mix(gru, counted, bucket)
    assert -np.log(mixed).mean() < min(-np.log(gru).mean(), -np.log(counted).mean())


def test_ngram_round_trips_through_its_file(ngram: NGram, tmp_path) -> None:
    ngram.weights = np.linspace(0.1, 0.9, ngram.order + 1)
    ngram.save(tmp_path / "ngram.npz")
    loaded = NGram.load(tmp_path / "ngram.npz")
    symbols = _encoded(TEXTS[150:])
    assert np.array_equal(loaded.probs(symbols)[0], ngram.probs(symbols)[0])
    assert np.array_equal(loaded.weights, ngram.weights)
