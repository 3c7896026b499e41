"""Training the persona char-GRU: `fit` with callbacks, resumable checkpoints, TensorBoard logs,
fine-tuning from the serving version, and a registry version judged on held-out bits per char.

Work in progress lives in `ARTIFACTS/work/text/<target>/` (run description and checkpoints, one
every `checkpoint_steps` steps, each written to a staging folder and renamed). Starting training
again for the same target resumes from the newest checkpoint; a finished run removes the folder.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ModelError
from models.registry import Registry, TrainingOutcome
from models.review.texts import reviewed_texts
from models.text import artifact, data
from models.text.config import TextConfig
from models.text.cpu_gru import blas_threads
from models.text.callbacks import Checkpoints, Curve, Progress, Schedule
from models.text.evaluation import fit_ngram, score, traced_network
from models.text.network import build_model, from_arrays, to_arrays
from models.text.ngram import NGram
from models.text.prior import default_prior
from models.text.sampler import Sampler
from models.text.vocab import Vocab
from storage.artifacts import atomic_write_bytes
from storage.registry import ModelKind

log = logging.getLogger(__name__)


def target_name(personas: Sequence[str]) -> str:
    """Registry target of a model trained on `personas`: "all", or the names joined by "+"."""
    return "+".join(sorted(personas)) if personas else "all"


def compile_model(model: keras.Model, config: TextConfig, peak_lr: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(peak_lr, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint folder, if any (staging leftovers are ignored)."""
    found = sorted(folder.glob("step-*"))
    return found[-1] if found else None


@dataclass
class FitResult:
    model: keras.Model
    ngram: NGram | None
    metrics: dict[str, float]


def fit(
    train: Sequence[data.PersonaTweet],
    val: Sequence[data.PersonaTweet],
    vocab: Vocab,
    personas: list[str],
    config: TextConfig,
    workdir: Path,
    *,
    minutes: float | None = None,
    epochs: float | None = None,
    init: dict[str, np.ndarray] | None = None,
    lr_scale: float = 1.0,
    rehearse: Sequence[data.PersonaTweet] = (),
    log_dir: Path | None = None,
    progress: Progress | None = None,
    curve: Curve | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Train on `train` (resuming from `workdir`'s newest checkpoint if there is one) until the
    budget is spent; `init` starts from a version's weights (fine-tuning, with the peak
    learning rate times `lr_scale`). `rehearse` tweets are trained on too, never in the dev set
    or the n-gram (the prior's text, so fine-tuning does not forget it)."""
    if (minutes is None) == (epochs is None):
        raise ModelError("give exactly one of a time budget (minutes) or epochs")
    keras.utils.set_random_seed(config.seed)
    k = config.dev_every
    dev = list(train[::k]) if k > 1 and len(train) >= 2 * k else []
    if dev:
        train = [tweet for i, tweet in enumerate(train) if i % k]
    chars, owners = data.pack([*train, *rehearse], vocab, personas)
    per_pass = data.steps_per_pass(chars, config.seq_len, config.batch_size)
    max_steps = max(1, round(epochs * per_pass)) if epochs is not None else None
    peak_lr = config.learning_rate * lr_scale
    checkpoint = latest_checkpoint(workdir / "checkpoints")
    state = {"epoch": 0, "step": 0, "elapsed_s": 0.0}
    if checkpoint is not None:
        model = keras.saving.load_model(checkpoint / "model.keras")
        state = json.loads((checkpoint / "state.json").read_text())
    else:
        model = build_model(config, len(vocab), len(personas))
        if init is not None:
            from_arrays(model, init)
        compile_model(model, config, peak_lr)
    schedule = Schedule(
        peak_lr, config, max_steps=max_steps, elapsed=state["elapsed_s"], progress=progress, curve=curve,
        seconds=minutes * 60 if minutes is not None else None,
    )
    network = traced_network(model)  # traced once; it reads the weights as they are when called
    eval_batches = data.heldout_batches(dev[: config.eval_tweets], vocab, personas)
    checkpoints = Checkpoints(
        workdir / "checkpoints", schedule, network, eval_batches, vocab, personas, config, log_dir
    )
    callbacks = [schedule, checkpoints, *extra_callbacks]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), update_freq="epoch"))
    chunk = min(config.checkpoint_steps, max_steps or config.checkpoint_steps)
    started = time.monotonic()
    step0 = state["step"]
    if schedule.fraction(state["step"]) < 1.0:
        with blas_threads():  # CpuGRU's time loop does its matrix products in NumPy
            model.fit(
                data.windows(chars, owners, config.seq_len, config.batch_size, config.seed),
                epochs=10**9 if max_steps is None else math.ceil(max_steps / chunk),
                steps_per_epoch=chunk, initial_epoch=state["epoch"], callbacks=callbacks,
                verbose=0, shuffle=False,  # the dataset shuffles itself
            )
    steps = int(model.optimizer.iterations.numpy())
    seconds = time.monotonic() - started
    best_step = steps
    if checkpoints.best is not None:  # the checkpoint the dev tweets liked best (this session)
        _, best_step, weights = checkpoints.best
        model.set_weights(weights)
    ngram = (
        fit_ngram(network, train, dev, vocab, personas, config.ngram_order)
        if config.ngram_order else None
    )
    by_persona = {  # each persona's own held-out bits per char, when the model speaks as several
        f"bpc:{name}": score(network, ngram, mine, vocab, personas)["bpc"]
        for name in personas if len(personas) > 1 and (mine := [t for t in val if t[0] == name])
    }
    metrics = {
        **score(network, ngram, val, vocab, personas),
        **by_persona,
        "steps": steps,
        "best_step": best_step,
        "epochs": steps / per_pass,
        "train_seconds": schedule.elapsed(),
        "chars_per_s": (steps - step0) * config.batch_size * config.seq_len / max(seconds, 1e-9),
        "train_tweets": len(train),
        "heldout_tweets": len(val),
    }
    return FitResult(model, ngram, metrics)


def lr_scale(config: TextConfig, finetuned_from: int | None, prior_name: str | None) -> float:
    """Peak learning-rate multiplier: lower when starting from a version or the prior."""
    if finetuned_from is not None:
        return config.finetune_lr_scale
    return config.prior_lr_scale if prior_name is not None else 1.0


def write_artifact(
    result: FitResult, vocab: Vocab, personas: list[str], config: TextConfig,
    tweets: Sequence[data.PersonaTweet],
) -> Callable[[Path], None]:
    """What writes the version folder of a fit (`models/text/artifact.py`)."""
    arrays = to_arrays(result.model)
    return lambda folder: artifact.write(
        folder, arrays, result.ngram, vocab, personas, config, tweets
    )


def with_reviewed(sessions: sessionmaker[Session], tweets: Sequence[data.PersonaTweet]
                  ) -> list[data.PersonaTweet]:
    """The campaign texts reviewers approved or rewrote (`models.review.texts`) of the
    personas of `tweets`, those not among them already: what a training adds to `tweets`."""
    personas = sorted({persona for persona, _ in tweets})
    seen = {text for _, text in tweets}
    added = []
    for persona, text in reviewed_texts(sessions, personas):
        if text not in seen:
            seen.add(text)
            added.append((persona, text))
    return added


def train_text(
    registry: Registry,
    sessions: sessionmaker[Session],
    artifacts_dir: Path,
    personas: Sequence[str] = (),
    *,
    minutes: float | None = None,
    epochs: float | None = None,
    config: TextConfig | None = None,
    fresh: bool = False,
    from_scratch: bool = False,
    progress: Progress | None = None,
    run_id: int | None = None,
    reviewed: bool = True,
) -> TrainingOutcome:
    """Train (or resume, or fine-tune the serving version of) the model for `personas`, save
    it as a new version and promote it if its held-out bits per char are no worse. A new model
    starts from the English prior (`models/text/prior.py`) unless `from_scratch` or the config's
    shape differs from it. `run_id` names the requested training run this is (else a new run
    is recorded). With `reviewed`, the campaign texts reviewers approved or rewrote join
    their personas' tweets (`with_reviewed`; their count is the metric "reviewed_texts")."""
    target = target_name(personas)
    tweets = data.load_tweets(sessions, personas)
    added = with_reviewed(sessions, tweets) if reviewed else []
    tweets += added
    workdir = artifacts_dir / "work" / "text" / target
    run_file = workdir / "run.json"
    checkpoint = latest_checkpoint(workdir / "checkpoints")
    init, finetuned_from, prior_name = None, None, None
    if checkpoint is not None and run_file.exists():
        run = json.loads(run_file.read_text())
        vocab, names = Vocab.from_json(run["vocab"]), run["personas"]
        config, finetuned_from = TextConfig.from_dict(run["model"]), run["finetuned_from"]
        minutes, epochs, prior_name = run["minutes"], run["epochs"], run.get("prior")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        serving = None if fresh else registry.serving_local(ModelKind.TEXT, target)
        if serving is not None:
            base = Sampler.load(serving.folder)
            vocab, config = base.vocab, base.config
            names = base.personas + sorted({p for p, _ in tweets} - set(base.personas))
            with np.load(serving.folder / "weights.npz") as saved:
                init = {k: saved[k] for k in saved.files}
            finetuned_from = serving.version
        else:
            config = config or TextConfig.cpu()
            texts = [t for _, t in data.split_by_tweet(tweets, config.val_fraction)[0]]
            prior = None if from_scratch else default_prior(config)
            if prior is not None:
                vocab, init = prior.start(texts, config.min_char_count)
                prior_name = prior.name
            else:
                vocab = Vocab.build(texts, config.min_char_count)
            names = sorted({p for p, _ in tweets})
        run = {
            "vocab": vocab.to_json(), "personas": names, "model": config.to_dict(),
            "finetuned_from": finetuned_from, "prior": prior_name, "minutes": minutes,
            "epochs": epochs,
        }
        atomic_write_bytes(run_file, json.dumps(run, ensure_ascii=False).encode("utf-8"))
    train, val = data.split_by_tweet(tweets, config.val_fraction)
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    if not tensorboard:
        log.warning("tensorboard is not installed: training without TensorBoard logs")
    with registry.training_run(ModelKind.TEXT, target, run_id) as run:
        logs = artifacts_dir / "tensorboard" / "text" / target / f"run-{run.id}"
        log_dir = logs if tensorboard else None
        result = fit(
            train, val, vocab, names, config, workdir, minutes=minutes, epochs=epochs, init=init,
            lr_scale=lr_scale(config, finetuned_from, prior_name),
            log_dir=log_dir,
            progress=progress,
            curve=registry.curve_recorder(run.id),
        )
        run.metrics = {**result.metrics, "finetuned_from": finetuned_from, "prior": prior_name,
                       "reviewed_texts": len(added)}
        version = registry.save_version(
            ModelKind.TEXT, target,
            write_artifact(result, vocab, names, config, tweets),
            run.metrics, {"model": config.to_dict(), "personas": names}, training_run_id=run.id,
        )
        verdict = registry.promote_if_better(version.id, "bpc")
    shutil.rmtree(workdir, ignore_errors=True)
    resumed = int(checkpoint.name.split("-")[1]) if checkpoint is not None else None
    return TrainingOutcome(version.version, verdict, run.metrics, resumed, finetuned_from)
