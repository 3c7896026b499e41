"""Training the text model: versions, the promotion gate, resuming after an interruption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.app import App
from models.registry import Registry
from models.text.batch import candidates
from models.text.config import TextConfig
from models.text.ngram import NGramState
from models.text.sampler import Sampler
from models.text.serving import serving_version
from models.text.vocab import BOS, EOS
from storage.registry import RunStatus, TrainingRun
from text_corpus import store

TINY = TextConfig(
    embed_dim=8, persona_dim=4, units=24, seq_len=32, batch_size=8, checkpoint_steps=5,
    eval_tweets=16, warmup_steps=2,
)


def _train(app: App, **kwargs):
    from models.text.train import train_text

    registry = Registry(app.sessions, app.artifacts_dir)
    return registry, train_text(registry, app.sessions, app.artifacts_dir, config=TINY, **kwargs)


def test_training_saves_a_servable_version_and_finetunes_it(sqlite_app: App) -> None:
    store(sqlite_app, {"ada": 40, "bob": 40})
    registry, first = _train(sqlite_app, epochs=1)
    assert first.version == 1 and first.verdict.promoted and first.metrics["bpc"] > 0
    folder = Path(serving_version(registry, "ada").artifact_path)
    assert {p.name for p in folder.iterdir()} >= {"weights.npz", "vocab.json", "config.json"}
    sampler = Sampler.load(folder)  # from the artifact alone
    assert sampler.personas == ["ada", "bob"] and candidates(sampler, "bob", 2, seed=0)
    store(sqlite_app, {"cyd": 0} | {"ada": 45})  # a new persona row, more tweets
    _, second = _train(sqlite_app, epochs=1)
    assert second.finetuned_from == 1
    assert not (sqlite_app.artifacts_dir / "work" / "text" / "all").exists()


def test_gate_keeps_the_serving_version_when_a_new_one_is_worse(sqlite_app: App) -> None:
    store(sqlite_app, {"ada": 40})
    registry, first = _train(sqlite_app, personas=["ada"], epochs=1)
    trained = Path(serving_version(registry, "ada").artifact_path)
    # A serving version claiming an unbeatable score, with the same files.
    best = registry.save_version(
        "text", "ada", lambda f: shutil.copytree(trained, f, dirs_exist_ok=True), {"bpc": 0.01},
        {"personas": ["ada"]},
    )
    assert registry.promote_if_better(best.id, "bpc").promoted
    _, outcome = _train(sqlite_app, personas=["ada"], epochs=1, fresh=True)
    assert not outcome.verdict.promoted and "0.01" in outcome.verdict.reason
    assert Path(serving_version(registry, "ada").artifact_path).name == "v0002"


def test_served_mixture_scores_heldout_tweets_as_training_measured(sqlite_app: App) -> None:
    from models.text.data import load_tweets, split_by_tweet

    store(sqlite_app, {"ada": 60, "bob": 60})  # enough tweets for a dev split
    registry, outcome = _train(sqlite_app, epochs=2)
    metrics = outcome.metrics
    assert metrics["bpc"] < metrics["gru_bpc"]  # the n-gram helps a GRU this undertrained
    sampler = Sampler.load(Path(serving_version(registry, "ada").artifact_path))
    assert sampler.ngram is not None
    _, heldout = split_by_tweet(load_tweets(sqlite_app.sessions), TINY.val_fraction)
    bits, count = 0.0, 0
    for persona, text in heldout:  # generation's own step, fed each held-out tweet
        persona_vec = sampler.persona_input(persona)
        state = sampler.start(1)
        counts = NGramState(sampler.ngram, 1)
        logits = sampler.step(np.asarray([BOS]), persona_vec, state)
        for symbol in [*sampler.vocab.encode(text), EOS]:
            bits -= np.log2(sampler.next_probs(logits, counts)[0, symbol])
            count += 1
            logits = sampler.step(np.asarray([symbol]), persona_vec, state)
            counts.advance(np.asarray([symbol]))
    assert bits / count == pytest.approx(metrics["bpc"], abs=1e-4)


def test_interrupted_training_resumes_from_its_checkpoint(sqlite_app: App) -> None:
    store(sqlite_app, {"ada": 60})
    checkpoints = sqlite_app.artifacts_dir / "work" / "text" / "ada" / "checkpoints"

    def kill_after_first_checkpoint(done: float, logs: dict[str, float]) -> None:
        if any(checkpoints.glob("step-*")):
            raise KeyboardInterrupt  # like Ctrl-C, or the process being killed

    with pytest.raises(KeyboardInterrupt):
        _train(sqlite_app, personas=["ada"], epochs=2, progress=kill_after_first_checkpoint)
    saved = json.loads(next(checkpoints.glob("step-*/state.json")).read_text())
    assert saved["step"] == TINY.checkpoint_steps
    with sqlite_app.sessions() as session:
        assert session.query(TrainingRun).one().status == RunStatus.FAILED

    steps_run: list[float] = []
    registry, outcome = _train(
        sqlite_app, personas=["ada"], epochs=2, progress=lambda d, _: steps_run.append(d)
    )
    assert outcome.resumed_from_step == TINY.checkpoint_steps
    total = outcome.metrics["steps"]
    assert outcome.metrics["epochs"] == pytest.approx(2.0)
    assert len(steps_run) == total - TINY.checkpoint_steps  # continued, not restarted
    assert registry.serving("text", "ada") is not None


def test_unknown_persona_is_a_clear_error(sqlite_app: App) -> None:
    from models.errors import ModelError

    store(sqlite_app, {"ada": 5})
    with pytest.raises(ModelError, match="no persona named zed"):
        _train(sqlite_app, personas=["zed"], epochs=1)
