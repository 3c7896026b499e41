"""Pretraining the English prior with nowbot's own trainer (`train.fit`), written as an artifact
folder inside the repository (`prior.PRIORS_DIR`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from models.text import data, prior
from models.text.callbacks import Progress
from models.text.network import to_arrays
from models.text.train import fit
from models.text.vocab import Vocab
from storage.artifacts import staged_dir


def pretrain(
    units: Sequence[str], folder: Path, workdir: Path, provenance: Callable[[dict[str, float]], str],
    *, minutes: float,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Train the prior on `units` (each one "tweet" of `prior.BASE_PERSONA`) for `minutes`
    (resuming from `workdir`'s newest checkpoint), replace `folder` with it; its metrics.
    `provenance` writes PROVENANCE.md from the metrics."""
    config = prior.pretrain_config()
    vocab = Vocab(prior.base_chars())
    tweets = [(prior.BASE_PERSONA, unit) for unit in units]
    train, val = data.split_by_tweet(tweets, config.val_fraction)
    result = fit(train, val, vocab, [prior.BASE_PERSONA], config, workdir, minutes=minutes,
                 progress=progress)
    metrics = {k: round(float(v), 4) for k, v in result.metrics.items()}
    metrics["units"], metrics["chars"] = len(units), sum(len(u) for u in units)
    staged = folder.with_name(folder.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    with staged_dir(staged) as staging:
        prior.write(staging, to_arrays(result.model), vocab, config, metrics,
                    provenance(metrics))
    shutil.rmtree(folder, ignore_errors=True)
    staged.rename(folder)
    shutil.rmtree(workdir, ignore_errors=True)
    return metrics
