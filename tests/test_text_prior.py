"""The English prior: its fixed vocabulary, its text, and persona models fine-tuned from it
(a tiny prior made here, not the committed one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.app import App
from conftest import cli_runner
from corpora.english import fortune_units, sentence_units
from corpora.errors import CorpusError
from models.registry import Registry
from models.text import prior
from models.text.batch import candidates
from models.text.config import TextConfig
from models.text.sampler import Sampler
from models.text.serving import serving_version
from models.text.vocab import UNK, Vocab
from text_corpus import store

TINY = TextConfig(
    embed_dim=8, persona_dim=4, units=24, seq_len=32, batch_size=8, checkpoint_steps=5,
    eval_tweets=16, warmup_steps=2,
)
ASCII = tuple(chr(c) for c in range(0x20, 0x7F))  # the tiny prior's vocabulary: no emoji


@pytest.fixture
def tiny_prior(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> prior.Prior:
    """A prior of `TINY`'s shape with random weights, installed as the default one."""
    from models.text.network import build_model, to_arrays

    monkeypatch.setattr(prior, "PRIORS_DIR", tmp_path / "priors")
    folder = prior.PRIORS_DIR / prior.DEFAULT_PRIOR
    folder.mkdir(parents=True)
    vocab = Vocab(ASCII)
    prior.write(folder, to_arrays(build_model(TINY, len(vocab), 1)), vocab, TINY, {}, "# test\n")
    return prior.Prior.load(folder)


def _train(app: App, **kwargs):
    from models.text.train import train_text

    registry = Registry(app.sessions, app.artifacts_dir)
    outcome = train_text(registry, app.sessions, app.artifacts_dir, ["ada"], config=TINY, **kwargs)
    return outcome, Path(serving_version(registry, "ada").artifact_path)


def test_new_model_starts_from_the_prior_and_keeps_its_layers(
    sqlite_app: App, tiny_prior: prior.Prior
) -> None:
    store(sqlite_app, {"ada": 40})  # ada writes 🚀, which the prior does not know
    outcome, folder = _train(sqlite_app, epochs=1)
    assert outcome.metrics["prior"] == "english-v1" and outcome.finetuned_from is None
    sampler = Sampler.load(folder)
    assert sampler.vocab.chars == (*ASCII, "🚀")  # the prior's rows in order, then the new one
    with np.load(folder / "weights.npz") as saved:
        embedding = saved["char_embedding"]
    q = sampler.vocab.encode("Q")[0]  # never in ada's tweets: its row is the prior's, untouched
    assert np.array_equal(embedding[q], tiny_prior.arrays["char_embedding"][q])
    assert len(candidates(sampler, "ada", 4, seed=0)) == 4


def test_from_scratch_does_not_use_the_prior(sqlite_app: App, tiny_prior: prior.Prior) -> None:
    store(sqlite_app, {"ada": 40})
    outcome, folder = _train(sqlite_app, epochs=1, from_scratch=True)
    assert outcome.metrics["prior"] is None
    assert "Q" not in Sampler.load(folder).vocab.chars  # the tweets' own characters only


def test_a_model_of_another_shape_trains_from_scratch(sqlite_app: App, tiny_prior: prior.Prior) -> None:
    from models.text.train import train_text

    store(sqlite_app, {"ada": 40})
    registry = Registry(sqlite_app.sessions, sqlite_app.artifacts_dir)
    wider = TextConfig(**{**TINY.to_dict(), "units": 32})
    outcome = train_text(registry, sqlite_app.sessions, sqlite_app.artifacts_dir, ["ada"],
                         config=wider, epochs=1)
    assert outcome.metrics["prior"] is None


def test_cli_says_where_training_started(sqlite_app: App, tiny_prior: prior.Prior,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TextConfig, "cpu", classmethod(lambda cls: TINY))
    store(sqlite_app, {"ada": 30})
    nowbot = cli_runner(sqlite_app)
    first = nowbot("train", "text", "--epochs", "1")
    assert first.exit_code == 0, first.output
    assert "from the English prior english-v1" in first.output
    again = nowbot("train", "text", "--epochs", "1", "--fresh", "--from-scratch")
    assert again.exit_code == 0 and "from scratch" in again.output


def test_persona_keeps_core_and_used_rows_and_new_symbols_start_as_unknown() -> None:
    vocab = Vocab(("a", "b", "é", "ñ"))  # a, b are core (ASCII); é, ñ are kept only if used
    grown, rows = prior.persona_rows(vocab, ["aéé✈😀", "😀"], min_count=2)
    assert grown.chars == ("a", "b", "é", "😀")  # ✈ seen once: stays unknown
    assert rows == [0, 1, 2, 3, 4, 5, 6, UNK]
    rng = np.random.default_rng(0)
    arrays = {"char_embedding": rng.normal(size=(8, 3)), "logits/kernel": rng.normal(size=(5, 8)),
              "logits/bias": rng.normal(size=8)}
    out = prior.take_rows(arrays, rows)
    assert np.array_equal(out["char_embedding"][7], arrays["char_embedding"][UNK])
    assert np.array_equal(out["logits/kernel"][:, 6], arrays["logits/kernel"][:, 6])
    assert out["logits/bias"].shape == (8,) and out["logits/bias"][7] == arrays["logits/bias"][UNK]


def test_base_vocabulary_covers_what_personas_write() -> None:
    chars = prior.base_chars()
    assert len(set(chars)) == len(chars) < 700
    assert set("Hello, world! 3.5% é ñ ß ł ș ’ “ ” … — 😂 ❤ 🔥 👍 🏽") <= set(chars)


def test_units_are_tweet_sized(tmp_path: Path) -> None:
    text = "First one here. Second one? " + "A long sentence that goes on. " * 12
    units = list(sentence_units(text))
    assert units[0].startswith("First one here. Second one?")
    assert all(len(u) <= 280 and u.count(". ") + u.count("? ") <= 2 for u in units)
    (tmp_path / "fortunes").write_text("Short.\n%\nA fortune of a good length,\n  on two lines.\n%\n")
    assert fortune_units(tmp_path) == ["A fortune of a good length, on two lines."]
    with pytest.raises(CorpusError, match="apt-get install fortunes"):
        fortune_units(tmp_path / "none")


def test_prior_artifact_is_small_and_described() -> None:
    folder = prior.PRIORS_DIR / prior.DEFAULT_PRIOR
    if not folder.exists():
        pytest.skip("no committed prior")
    assert sum(f.stat().st_size for f in folder.iterdir()) < 4_000_000
    assert "nowbot train base" in (folder / "PROVENANCE.md").read_text()
    assert json.loads((folder / "config.json").read_text())["personas"] == [prior.BASE_PERSONA]
