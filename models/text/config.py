"""Hyperparameters of the persona char-GRU: one typed object, saved with every version."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TextConfig:
    """Model size and training recipe. `cpu()` trains usefully in minutes on two cores;
    `gpu()` is a bigger model for a machine with an accelerator."""

    # Network
    embed_dim: int = 64  # character embedding width
    persona_dim: int = 16  # persona embedding width, fed at every time step
    units: int = 256  # GRU units per layer (measured: beats 384 and 512 per CPU minute)
    layers: int = 1
    dropout: float = 0.4  # on GRU outputs; small corpora see dozens of passes in 10 minutes
    # Kneser-Ney n-gram mixed with the GRU (0: the GRU alone); see models/text/ngram.py
    ngram_order: int = 10  # measured: 10 beats 8 in the mixture (Trump 1.62 vs 1.65 bits/char)
    # Words the sampler may write: the persona's own and its language's general words at least
    # this frequent on wordfreq's Zipf scale (see models/text/lexicon.py)
    word_zipf: float = 2.5
    # Data
    # Short windows and small batches: more updates per CPU minute, which matters more than
    # long context early on (measured on the benchmark corpora, see docs/text-model.md).
    seq_len: int = 64  # characters per training window (whole tweets packed back to back)
    batch_size: int = 32
    min_char_count: int = 2  # rarer characters become the unknown symbol
    val_fraction: float = 0.1  # share of tweets held out, chosen by a hash of the text
    # Optimisation: Adam, linear warm-up then cosine decay over the step or time budget
    learning_rate: float = 1e-2
    warmup_steps: int = 100
    final_lr_fraction: float = 0.05
    clip_norm: float = 1.0
    finetune_lr_scale: float = 0.3  # peak learning rate multiplier when starting from a version
    prior_lr_scale: float = 0.3  # ... and when starting from the English prior (models/text/prior.py)
    checkpoint_steps: int = 200  # steps between checkpoints (one Keras "epoch" of the loop)
    # Every `dev_every`-th training tweet is kept out of training to pick the best checkpoint
    # (small corpora overfit within minutes); the held-out tweets judge only the final model.
    dev_every: int = 20
    eval_tweets: int = 256  # dev tweets scored at each checkpoint
    seed: int = 0

    @classmethod
    def cpu(cls) -> TextConfig:
        return cls()

    @classmethod
    def gpu(cls) -> TextConfig:
        return cls(
            embed_dim=128, persona_dim=32, units=1024, layers=2, dropout=0.25, seq_len=200,
            batch_size=128, learning_rate=2e-3, warmup_steps=200, checkpoint_steps=500,
            eval_tweets=1024,
        )

    @classmethod
    def preset(cls, name: str) -> TextConfig:
        """The named preset ("cpu" or "gpu")."""
        presets = {"cpu": cls.cpu, "gpu": cls.gpu}
        if name not in presets:
            raise ValueError(f"unknown text model preset '{name}' (choose cpu or gpu)")
        return presets[name]()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextConfig:
        """Rebuild from a saved dict; keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
