"""Continuous batching: requests of different personas, prompts, temperatures and sizes sampled
in one batch, joining while others run, each answered as if it had been alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from models.errors import ModelError
from models.text.batch import THIN_AT, Batch, Request
from models.text.config import TextConfig
from models.text.lexicon import Lexicon, split_words
from models.text.ngram import NGram
from models.text.sampler import Sampler
from models.text.vocab import EOS, Vocab

TEXTS = ["Machine learning is fun today.", "Hello world, the deal is tremendous!",
         "The world is learning fast.", "A tremendous deal for the world."] * 5
VOCAB = Vocab.build(TEXTS)
CONFIG = TextConfig(embed_dim=6, persona_dim=3, units=16, layers=1)


@pytest.fixture(scope="module")
def sampler() -> Sampler:
    """Random weights (large enough that persona, prompt and state all matter), a 4-gram of
    the texts and a word tree of their words."""
    rng = np.random.default_rng(0)
    v, u, e, p = len(VOCAB), CONFIG.units, CONFIG.embed_dim, CONFIG.persona_dim

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 1.0, shape).astype(np.float32)

    arrays = {
        "char_embedding": normal(v, e), "persona_embedding": normal(2, p),
        "gru_0/kernel": normal(e + p, 3 * u), "gru_0/recurrent_kernel": normal(u, 3 * u),
        "gru_0/bias": normal(2, 3 * u), "logits/kernel": normal(u, v), "logits/bias": normal(v),
    }
    ngram = NGram.fit([[*VOCAB.encode(t), EOS] for t in TEXTS], 4, v)
    words = {w for t in TEXTS for w in split_words(t)}
    lexicon = Lexicon.build({"ada": words, "bob": words}, {"en": set()},
                            {"ada": ["en"], "bob": ["en"]}, VOCAB)
    return Sampler(arrays, VOCAB, ["ada", "bob"], CONFIG, ngram, lexicon)


REQUESTS = [
    Request("ada", 1, 3, top_k=1),
    Request("bob", 1, 2, prompt="Hello", top_k=1, max_chars=60),
    Request("ada", 1, 1, blend="bob", mix=0.3, top_k=1, temperature=0.5, mentions=False),
    Request("bob", 1, 4, prompt="The", top_k=1, real_words=False),
]


def _alone(sampler: Sampler, request: Request) -> list[str]:
    batch = Batch(sampler, np.random.default_rng(0))
    batch.add(request)
    while True:
        for _, [samples] in batch.step():
            return [s.text for s in samples]


def test_each_request_in_a_mixed_batch_gets_what_it_would_alone(sampler: Sampler) -> None:
    # Greedy requests do not depend on the random stream: only the batch can change them.
    batch = Batch(sampler, np.random.default_rng(1))
    got: dict[int, list[str]] = {}
    batch.add(REQUESTS[0], tag=0)
    batch.add(REQUESTS[1], tag=1)
    for _ in range(3):  # the others join while these are running
        got.update((tag, [s.text for s in samples]) for tag, [samples] in batch.step())
    batch.add(REQUESTS[2], tag=2)
    batch.add(REQUESTS[3], tag=3)
    while batch.waiting:
        got.update((tag, [s.text for s in samples]) for tag, [samples] in batch.step())
    assert len(batch) == 0
    assert got == {tag: _alone(sampler, request) for tag, request in enumerate(REQUESTS)}
    assert got[1][0].startswith("Hello") and got[3][0].startswith("The")
    assert all(len(text) <= 60 for text in got[1])


def test_a_short_request_is_answered_while_a_long_one_goes_on(sampler: Sampler) -> None:
    batch = Batch(sampler)
    batch.add(Request("ada", 1, 2, stop_at_end=False, max_chars=200), tag="long")
    batch.add(Request("bob", 1, 2, stop_at_end=False, max_chars=20), tag="short")
    done_at = {}
    for step in range(1, 300):
        for tag, [samples] in batch.step():
            done_at[tag] = step
            assert all(len(s.text) <= (200 if tag == "long" else 20) for s in samples)
        if not batch.waiting:
            break
    assert done_at == {"short": 20, "long": 200}


def test_bad_requests_are_refused_before_joining(sampler: Sampler) -> None:
    batch = Batch(sampler)
    for request in (Request("ada", temperature=0.0), Request("ada", prompt="x" * 300),
                    Request("ada", 0), Request("ada", thin=-1), Request("zed")):
        with pytest.raises(ModelError):
            batch.add(request)
    assert len(batch) == 0 and batch.waiting == 0


def test_each_row_samples_at_its_own_temperature(sampler: Sampler) -> None:
    batch = Batch(sampler, np.random.default_rng(2))
    batch.add(Request("ada", 1, 8, temperature=0.005, max_chars=40), tag="cold")
    batch.add(Request("ada", 1, 8, temperature=5.0, max_chars=40), tag="hot")
    got = {}
    while batch.waiting:
        got.update((tag, {s.text for s in samples}) for tag, [samples] in batch.step())
    assert len(got["cold"]) <= 2 and len(got["hot"]) >= 6  # near-greedy, and nearly all different


def test_a_thinned_request_halves_its_writing_rows_and_returns_the_rest(sampler: Sampler) -> None:
    batch = Batch(sampler, np.random.default_rng(3))
    batch.add(Request("ada", 1, 16, prompt="The", stop_at_end=False, max_chars=80, thin=4), tag="thin")
    batch.add(Request("bob", 1, 16, stop_at_end=False, max_chars=80), tag="whole")
    assert len(batch) == 2 and batch.planned == 32  # one row reads for each request's candidates
    rows, got = [], {}
    while batch.waiting:
        got.update((tag, samples) for tag, [samples] in batch.step())
        rows.append(len(batch))
    assert rows[0] == 17  # "whole" has split; "thin" still reads its prompt
    read = len("The")  # steps before "thin" samples its first character
    assert rows[read] == 32
    assert rows[read + THIN_AT[0] - 1] == 16 + 8 and rows[read + THIN_AT[1] - 1] == 16 + 4
    assert len(got["whole"]) == 16 and len(got["thin"]) == 4
    assert all(s.text.startswith("The") for s in got["thin"])


def test_a_cold_temperature_draws_allowed_symbols_where_the_model_wants_a_forbidden_one(
    sampler: Sampler,
) -> None:
    # The GRU alone (no n-gram lending other symbols mass), all but certain of a letter that
    # starts no word: each allowed symbol is about e^-40 as likely, and its 1/0.05 power is 0
    # even in float64, unless the draw first scales each row by its likeliest allowed symbol.
    [y] = VOCAB.encode("y")
    keen = copy.copy(sampler)
    keen.ngram, keen.out_b = None, sampler.out_b.copy()
    keen.out_b[y] += 40.0
    words = {w for t in TEXTS for w in split_words(t)}
    batch = Batch(keen, np.random.default_rng(4))
    batch.add(Request("ada", 1, 32, temperature=0.05, max_chars=60), tag="cold")
    got = []
    while batch.waiting:
        got += [s for _, [samples] in batch.step() for s in samples]
    assert len(got) == 32
    for sample in got:  # whole words, and a word cut at the limit begins one
        *whole, last = split_words(sample.text)
        assert set(whole) <= words and np.isfinite(sample.mean_logprob)
        assert last in words or (not sample.ended and any(w.startswith(last) for w in words))
