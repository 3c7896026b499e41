"""The NumPy sampler: same logits as Keras, whole tweets, limits, prompts, personas."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import ModelError
from models.text.batch import candidates
from models.text.config import TextConfig
from models.text.network import build_model, to_arrays
from models.text.ngram import NGram
from models.text.sampler import MAX_CHARS, Sampler
from models.text.vocab import BOS, EOS, Vocab

CONFIG = TextConfig(embed_dim=6, persona_dim=3, units=12, layers=2)
VOCAB = Vocab.build(["Machine learning 🚀 is fun", "hello world"])


@pytest.fixture(scope="module")
def model_and_sampler():
    import keras

    keras.utils.set_random_seed(1)
    model = build_model(CONFIG, len(VOCAB), 2, keras_gru=True)  # Keras's own GRU
    # Larger weights than the initialisers give, and non-zero biases, so that every term matters.
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights([w * 3 + rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])
    return model, Sampler(to_arrays(model), VOCAB, ["ada", "bob"], CONFIG)


def test_numpy_step_matches_keras_logits(model_and_sampler) -> None:
    model, sampler = model_and_sampler
    ids = np.array([[BOS, *VOCAB.encode("Machine ✈ 🚀")]] * 2)
    owners = np.array([[0] * ids.shape[1], [1] * ids.shape[1]])
    expected = np.asarray(model((ids, owners), training=False))
    state = sampler.start(2)
    persona = sampler.persona_in[[0, 1]]
    got = np.stack([sampler.step(ids[:, t], persona, state) for t in range(ids.shape[1])], 1)
    assert np.abs(got - expected).max() < 1e-5


def _ending_sampler(end_bias: float, ngram: NGram | None = None) -> Sampler:
    """A sampler whose output layer strongly favours (or avoids) the end symbol, and is
    uniform over the rest."""
    arrays = {
        "char_embedding": np.zeros((len(VOCAB), 6), np.float32),
        "persona_embedding": np.zeros((1, 3), np.float32),
        "logits/kernel": np.zeros((12, len(VOCAB)), np.float32),
        "logits/bias": np.zeros(len(VOCAB), np.float32),
    }
    arrays["logits/bias"][EOS] = end_bias
    for i in range(2):
        arrays[f"gru_{i}/kernel"] = np.zeros((9 if i == 0 else 12, 36), np.float32)
        arrays[f"gru_{i}/recurrent_kernel"] = np.zeros((12, 36), np.float32)
        arrays[f"gru_{i}/bias"] = np.zeros((2, 36), np.float32)
    return Sampler(arrays, VOCAB, ["ada"], CONFIG, ngram)


def test_generation_ends_by_itself() -> None:
    samples = candidates(_ending_sampler(end_bias=30.0), "ada", 4, seed=0)
    assert all(s.ended and len(s.text) == 1 for s in samples)  # never an empty tweet


def test_generation_stops_at_the_character_limit() -> None:
    samples = candidates(_ending_sampler(end_bias=-30.0), "ada", 3, seed=0)
    assert all(len(s.text) == MAX_CHARS and not s.ended for s in samples)


def test_generation_draws_from_the_mixture_with_the_ngram() -> None:
    ngram = NGram.fit([VOCAB.encode("hello world") + [EOS]] * 3, 4, len(VOCAB))
    ngram.weights[:] = 0.01  # the (uniform) GRU has a small share everywhere
    sampler = _ending_sampler(end_bias=0.0, ngram=ngram)
    greedy = candidates(sampler, "ada", 2, top_k=1, seed=0)
    assert [s.text for s in greedy] == ["hello world"] * 2 and greedy[0].ended
    assert greedy[0].mean_logprob > np.log(0.8)  # the mixture's probabilities, not 1/vocab
    continued = candidates(sampler, "ada", 1, prompt="hel", top_k=1)[0]
    assert continued.text == "hello world"


def test_candidates_that_end_early_leave_the_others_writing() -> None:
    ngram = NGram.fit([VOCAB.encode(t) + [EOS] for t in ["hi", "hello world"] * 3], 4, len(VOCAB))
    ngram.weights[:] = 0.01
    sampler = _ending_sampler(end_bias=0.0, ngram=ngram)
    samples = candidates(sampler, "ada", 12, temperature=0.3, seed=3)
    assert {s.text for s in samples} == {"hi", "hello world"} and all(s.ended for s in samples)


def test_prompt_is_continued_even_with_unknown_characters(model_and_sampler) -> None:
    _, sampler = model_and_sampler
    samples = candidates(sampler, "ada", 3, prompt="Machin✈", seed=2, max_chars=40)
    assert all(s.text.startswith("Machin✈") and len(s.text) <= 40 for s in samples)
    assert all("\ufffd" not in s.text for s in samples)  # the unknown symbol is never written


def test_top_k_one_is_greedy_and_blending_changes_the_voice(model_and_sampler) -> None:
    _, sampler = model_and_sampler
    a = candidates(sampler, "ada", 2, top_k=1, seed=1)
    assert a[0].text == a[1].text == candidates(sampler, "ada", 1, top_k=1, seed=9)[0].text
    b = candidates(sampler, "bob", 1, top_k=1)[0].text
    mixed_all_the_way = candidates(sampler, "ada", 1, top_k=1, blend="bob", mix=1.0)[0].text
    assert mixed_all_the_way == b


def test_unknown_persona_is_a_clear_error(model_and_sampler) -> None:
    _, sampler = model_and_sampler
    with pytest.raises(ModelError, match="persona 'zed' is not in this model"):
        candidates(sampler, "zed")


@pytest.mark.parametrize("temperature", [0.0, float("inf"), float("nan")])
def test_a_temperature_that_is_not_finite_and_positive_is_refused(
    model_and_sampler, temperature: float
) -> None:
    _, sampler = model_and_sampler
    with pytest.raises(ModelError, match="finite temperature"):
        candidates(sampler, "ada", temperature=temperature)
