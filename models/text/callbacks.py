"""The Keras callbacks of text training: the learning-rate schedule and budget, and the
checkpoints with their held-out checks and text samples."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models.text.batch import candidates
from models.text.config import TextConfig
from models.text.evaluation import Network, heldout_bpc
from models.text.network import to_arrays
from models.text.sampler import Sampler
from models.text.vocab import Vocab
from storage.artifacts import staged_dir

Progress = Callable[[float, dict[str, float]], None]
# (step, fraction of the budget, named values, force): a learning-curve point (`Registry.record_curve`)
Curve = Callable[[int, float, dict[str, float], bool], None]
LN2 = math.log(2.0)


class Schedule(keras.callbacks.Callback):
    """Warm-up then cosine learning rate over the budget (steps or wall-clock seconds), and the
    stop when the budget is spent. `elapsed` carries time spent before a resume; `progress` and
    `curve` hear of each step (`Checkpoints` adds the held-out curve points)."""

    def __init__(
        self, peak_lr: float, config: TextConfig, *, max_steps: int | None,
        seconds: float | None, elapsed: float = 0.0, progress: Progress | None = None,
        curve: Curve | None = None,
    ) -> None:
        super().__init__()
        self.peak, self.config, self.max_steps, self.seconds = peak_lr, config, max_steps, seconds
        self.before, self.progress, self.curve = elapsed, progress, curve
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
        step = int(self.model.optimizer.iterations.numpy())
        done = self.fraction(step)
        bpc = float((logs or {}).get("loss", 0.0)) / LN2
        if self.progress:
            self.progress(min(done, 1.0), {"bpc": bpc})
        if self.curve:
            self.curve(step, min(done, 1.0), {"bpc": bpc}, False)
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
        if self.schedule.curve:
            point = {"bpc": logs["bpc"], **({"dev_bpc": logs["dev_bpc"]} if self.eval_batches else {})}
            self.schedule.curve(step, min(self.schedule.fraction(step), 1.0), point, True)
        if self.writer is not None:
            sampler = Sampler(to_arrays(self.model), self.vocab, self.personas, self.config)
            lines = [
                f"**{p}**: {candidates(sampler, p, seed=step)[0].text}" for p in self.personas[:4]
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
