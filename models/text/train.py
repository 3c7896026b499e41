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
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ModelError
from models.registry import Registry, Verdict
from models.text import data
from models.text.config import TextConfig
from models.text.cpu_gru import blas_threads
from models.text.network import build_model, from_arrays, to_arrays
from models.text.ngram import NGram
from models.text.sampler import NGRAM_FILE, Sampler
from models.text.select import CopyIndex
from models.text.vocab import EOS, PAD, Vocab
from storage.artifacts import atomic_write_bytes, staged_dir
from storage.registry import ModelKind, RunStatus

log = logging.getLogger(__name__)
Progress = Callable[[float, dict[str, float]], None]
Network = Callable[[np.ndarray, np.ndarray], Any]  # (ids, persona ids) -> logits
LN2 = math.log(2.0)


def target_name(personas: Sequence[str]) -> str:
    """Registry target of a model trained on `personas`: "all", or the names joined by "+"."""
    return "+".join(sorted(personas)) if personas else "all"


def heldout_probs(
    logits: Callable[[np.ndarray, np.ndarray], Any],
    batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> np.ndarray:
    """The network's probability of every held-out symbol (each character and end symbol),
    each tweet scored from an empty state after its start symbol; tweets in batch order."""
    probs = []
    for inputs, owners, targets in batches:
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits(inputs, owners))
        probs.append(np.exp(-np.asarray(nats, np.float64)[targets != PAD]))
    return np.concatenate(probs) if probs else np.ones(0)


def bits_per_symbol(probs: np.ndarray) -> float:
    """Mean bits to encode symbols given their probabilities."""
    return float(-np.log2(probs).mean()) if len(probs) else 0.0


def heldout_bpc(
    logits: Callable[[np.ndarray, np.ndarray], Any],
    batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> float:
    """Bits per symbol of the network alone over held-out tweets (see `heldout_probs`)."""
    return bits_per_symbol(heldout_probs(logits, batches))


def _targets(tweets: Sequence[data.PersonaTweet], vocab: Vocab) -> list[list[int]]:
    """What the model predicts of each tweet: its characters, then the end symbol."""
    return [vocab.encode(text) + [EOS] for _, text in tweets]


def _gru_probs(
    network: Network, tweets: Sequence[data.PersonaTweet], vocab: Vocab, personas: list[str]
) -> np.ndarray:
    """The GRU's probability of every symbol of `tweets`, in the order of `_targets(tweets)`
    (`tweets` must already be sorted by `data.by_length`, the order they are batched in)."""
    return heldout_probs(network, data.heldout_batches(tweets, vocab, personas))


def _network(model: keras.Model) -> Network:
    """The model's logits for (batch, time) ids of any shape, traced once into one graph.
    Called eagerly, Keras's GRU runs its time loop op by op: about 8x slower on CPU, which made
    the held-out checks between checkpoints about a fifth of a training run's time."""
    ids = tf.TensorSpec((None, None), tf.int32)

    @tf.function(input_signature=[ids, ids])
    def logits(inputs: tf.Tensor, owners: tf.Tensor) -> tf.Tensor:
        return model((inputs, owners), training=False)

    return lambda inputs, owners: logits(
        tf.convert_to_tensor(inputs, tf.int32), tf.convert_to_tensor(owners, tf.int32)
    )


def fit_ngram(
    network: Network, train: Sequence[data.PersonaTweet], dev: Sequence[data.PersonaTweet],
    vocab: Vocab, personas: list[str], order: int,
) -> NGram:
    """The n-gram of the training tweets, its mixture weights fitted on the dev tweets (an
    even mixture when there are none)."""
    ngram = NGram.fit(_targets(train, vocab), order, len(vocab))
    if dev:
        dev = data.by_length(dev)
        gru = _gru_probs(network, dev, vocab, personas)
        ngram.fit_weights(gru, *ngram.probs(_targets(dev, vocab)))
    return ngram


def score(
    network: Network, ngram: NGram | None, tweets: Sequence[data.PersonaTweet], vocab: Vocab,
    personas: list[str],
) -> dict[str, float]:
    """Held-out bits per symbol of the model (`bpc`: the mixture when there is an n-gram) and
    of each part."""
    tweets = data.by_length(tweets)
    gru = _gru_probs(network, tweets, vocab, personas)
    if ngram is None:
        return {"bpc": bits_per_symbol(gru), "gru_bpc": bits_per_symbol(gru)}
    counted, bucket = ngram.probs(_targets(tweets, vocab))
    return {
        "bpc": bits_per_symbol(ngram.mix(gru, counted, bucket)),
        "gru_bpc": bits_per_symbol(gru),
        "ngram_bpc": bits_per_symbol(counted),
    }


def compile_model(model: keras.Model, config: TextConfig, peak_lr: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(peak_lr, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )


class Schedule(keras.callbacks.Callback):
    """Warm-up then cosine learning rate over the budget (steps or wall-clock seconds), and the
    stop when the budget is spent. `elapsed` carries time spent before a resume."""

    def __init__(
        self, peak_lr: float, config: TextConfig, *, max_steps: int | None,
        seconds: float | None, elapsed: float = 0.0, progress: Progress | None = None,
    ) -> None:
        super().__init__()
        self.peak, self.config, self.max_steps, self.seconds = peak_lr, config, max_steps, seconds
        self.before, self.progress = elapsed, progress
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.started

    def fraction(self, step: int) -> float:
        """Share of the budget spent after `step` optimizer steps."""
        if self.max_steps is not None:
            return step / self.max_steps
        assert self.seconds is not None
        return self.elapsed() / self.seconds

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        warm = min(1.0, (step + 1) / self.config.warmup_steps)
        floor = self.config.final_lr_fraction
        cosine = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(self.fraction(step), 1.0)))
        self.model.optimizer.learning_rate.assign(self.peak * warm * cosine)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        done = self.fraction(int(self.model.optimizer.iterations.numpy()))
        if self.progress:
            self.progress(min(done, 1.0), {"bpc": float((logs or {}).get("loss", 0.0)) / LN2})
        if done >= 1.0:
            self.model.stop_training = True


class Checkpoints(keras.callbacks.Callback):
    """At each Keras epoch end (every `checkpoint_steps` steps): dev-set bits per char and text
    samples into the logs and TensorBoard, the best weights so far kept in memory, then an
    atomic checkpoint with the elapsed time."""

    def __init__(
        self, folder: Path, schedule: Schedule, network: Network, eval_batches: list,
        vocab: Vocab, personas: list[str], config: TextConfig, log_dir: Path | None,
    ) -> None:
        super().__init__()
        self.folder, self.schedule, self.eval_batches = folder, schedule, eval_batches
        self.network = network
        self.vocab, self.personas, self.config = vocab, personas, config
        self.writer = tf.summary.create_file_writer(str(log_dir / "samples")) if log_dir else None
        self.best: tuple[float, int, list[np.ndarray]] | None = None  # dev bpc, step, weights

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["bpc"] = float(logs.get("loss", 0.0)) / LN2
        logs["dev_bpc"] = heldout_bpc(self.network, self.eval_batches)
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        step = int(self.model.optimizer.iterations.numpy())
        if self.eval_batches and (self.best is None or logs["dev_bpc"] < self.best[0]):
            self.best = (logs["dev_bpc"], step, self.model.get_weights())
        if self.writer is not None:
            sampler = Sampler(to_arrays(self.model), self.vocab, self.personas, self.config)
            lines = [
                f"**{p}**: {sampler.generate(p, seed=step)[0].text}" for p in self.personas[:4]
            ]
            with self.writer.as_default():
                tf.summary.text("samples", "\n\n".join(lines), step=step)
            self.writer.flush()
        self.save(epoch + 1, step)

    def save(self, epoch: int, step: int) -> None:
        final = self.folder / f"step-{step:08d}"
        if final.exists():
            return
        with staged_dir(final) as staging:
            self.model.save(staging / "model.keras")
            state = {"epoch": epoch, "step": step, "elapsed_s": self.schedule.elapsed()}
            (staging / "state.json").write_text(json.dumps(state))
        for old in sorted(self.folder.glob("step-*"))[:-1]:
            shutil.rmtree(old, ignore_errors=True)


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
    log_dir: Path | None = None,
    progress: Progress | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Train on `train` (resuming from `workdir`'s newest checkpoint if there is one) until the
    budget is spent; `init` starts from a version's weights (fine-tuning, with the peak
    learning rate times `lr_scale`)."""
    if (minutes is None) == (epochs is None):
        raise ModelError("give exactly one of a time budget (minutes) or epochs")
    keras.utils.set_random_seed(config.seed)
    k = config.dev_every
    dev = list(train[::k]) if k > 1 and len(train) >= 2 * k else []
    if dev:
        train = [tweet for i, tweet in enumerate(train) if i % k]
    chars, owners = data.pack(train, vocab, personas)
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
        peak_lr, config, max_steps=max_steps, elapsed=state["elapsed_s"], progress=progress,
        seconds=minutes * 60 if minutes is not None else None,
    )
    network = _network(model)  # traced once; it reads the weights as they are when called
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
    metrics = {
        **score(network, ngram, val, vocab, personas),
        "steps": steps,
        "best_step": best_step,
        "epochs": steps / per_pass,
        "train_seconds": schedule.elapsed(),
        "chars_per_s": (steps - step0) * config.batch_size * config.seq_len / max(seconds, 1e-9),
        "train_tweets": len(train),
        "heldout_tweets": len(val),
    }
    return FitResult(model, ngram, metrics)


@dataclass
class TrainOutcome:
    version: int
    verdict: Verdict
    metrics: dict[str, float]
    resumed_from: int | None  # step of the checkpoint the run resumed from
    finetuned_from: int | None  # version whose weights it started from


def _write_artifact(
    result: FitResult, vocab: Vocab, personas: list[str], config: TextConfig, texts: list[str]
) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        np.savez(folder / "weights.npz", **to_arrays(result.model))
        if result.ngram is not None:
            result.ngram.save(folder / NGRAM_FILE)
        (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), ensure_ascii=False))
        meta = {"format": 1, "personas": personas, "model": config.to_dict()}
        (folder / "config.json").write_text(json.dumps(meta, indent=2))
        CopyIndex.build(texts).save(folder / "copy_index.npz")

    return write


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
    progress: Progress | None = None,
) -> TrainOutcome:
    """Train (or resume, or fine-tune the serving version of) the model for `personas`, save
    it as a new version and promote it if its held-out bits per char are no worse."""
    target = target_name(personas)
    tweets = data.load_tweets(sessions, personas)
    workdir = artifacts_dir / "work" / "text" / target
    run_file = workdir / "run.json"
    checkpoint = latest_checkpoint(workdir / "checkpoints")
    init, finetuned_from = None, None
    if checkpoint is not None and run_file.exists():
        run = json.loads(run_file.read_text())
        vocab, names = Vocab.from_json(run["vocab"]), run["personas"]
        config, finetuned_from = TextConfig.from_dict(run["model"]), run["finetuned_from"]
        minutes, epochs = run["minutes"], run["epochs"]
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        serving = None if fresh else registry.serving(ModelKind.TEXT, target)
        if serving is not None:
            base = Sampler.load(Path(serving.artifact_path))
            vocab, config = base.vocab, base.config
            names = base.personas + sorted({p for p, _ in tweets} - set(base.personas))
            with np.load(Path(serving.artifact_path) / "weights.npz") as saved:
                init = {k: saved[k] for k in saved.files}
            finetuned_from = serving.version
        else:
            config = config or TextConfig.cpu()
            train_part, _ = data.split_by_tweet(tweets, config.val_fraction)
            vocab = Vocab.build((t for _, t in train_part), config.min_char_count)
            names = sorted({p for p, _ in tweets})
        run = {
            "vocab": vocab.to_json(), "personas": names, "model": config.to_dict(),
            "finetuned_from": finetuned_from, "minutes": minutes, "epochs": epochs,
        }
        atomic_write_bytes(run_file, json.dumps(run, ensure_ascii=False).encode("utf-8"))
    train, val = data.split_by_tweet(tweets, config.val_fraction)
    run_id = registry.start_run(ModelKind.TEXT, target, pid=os.getpid())
    log_dir = artifacts_dir / "tensorboard" / "text" / target / f"run-{run_id}"
    if importlib.util.find_spec("tensorboard") is None:
        log.warning("tensorboard is not installed: training without TensorBoard logs")
        log_dir = None
    try:
        result = fit(
            train, val, vocab, names, config, workdir, minutes=minutes, epochs=epochs, init=init,
            lr_scale=config.finetune_lr_scale if finetuned_from is not None else 1.0,
            log_dir=log_dir,
            progress=progress,
        )
        metrics = {**result.metrics, "finetuned_from": finetuned_from}
        version = registry.save_version(
            ModelKind.TEXT, target,
            _write_artifact(result, vocab, names, config, [t for _, t in tweets]),
            metrics, {"model": config.to_dict(), "personas": names}, training_run_id=run_id,
        )
        verdict = registry.promote_if_better(version.id, "bpc")
    except BaseException as error:
        registry.finish_run(run_id, RunStatus.FAILED, error=str(error) or type(error).__name__)
        raise
    registry.finish_run(run_id, RunStatus.SUCCEEDED, metrics)
    shutil.rmtree(workdir, ignore_errors=True)
    resumed = int(checkpoint.name.split("-")[1]) if checkpoint is not None else None
    return TrainOutcome(version.version, verdict, metrics, resumed, finetuned_from)
