"""Tiny text models for tests: a sampler whose network finds every symbol equally likely."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.text import artifact
from models.text.config import TextConfig
from models.text.lexicon import Lexicon
from models.text.sampler import Sampler
from models.text.vocab import Vocab

CONFIG = TextConfig(embed_dim=4, persona_dim=2, units=8, layers=1)
VOCAB = Vocab.build(["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'.,!?#@0123456789"])


def uniform_sampler(lexicon: Lexicon | None, personas: tuple[str, ...] = ("ada", "bob"),
                    vocab: Vocab = VOCAB) -> Sampler:
    """A sampler that finds every symbol equally likely: only the word tree (and a word guide)
    shapes its text."""
    arrays = uniform_arrays(personas, vocab)
    return Sampler(arrays, vocab, list(personas), CONFIG, lexicon=lexicon)


def uniform_arrays(personas: tuple[str, ...] = ("ada", "bob"), vocab: Vocab = VOCAB
                   ) -> dict[str, np.ndarray]:
    """The weights of `uniform_sampler` (all zero), as a version's `weights.npz` holds them."""
    v, u = len(vocab), CONFIG.units
    return {
        "char_embedding": np.zeros((v, CONFIG.embed_dim), np.float32),
        "persona_embedding": np.zeros((len(personas), CONFIG.persona_dim), np.float32),
        "logits/kernel": np.zeros((u, v), np.float32),
        "logits/bias": np.zeros(v, np.float32),
        "gru_0/kernel": np.zeros((CONFIG.embed_dim + CONFIG.persona_dim, 3 * u), np.float32),
        "gru_0/recurrent_kernel": np.zeros((u, 3 * u), np.float32),
        "gru_0/bias": np.zeros((2, 3 * u), np.float32),
    }


TWEETS = [("ada", "the cat sat on the mat today"), ("bob", "a dog ran in the park again"),
          ("ada", "good morning to the cat and the dog"), ("bob", "the park is green today")]


def write_text_model(folder: Path) -> None:
    """A real text model version for ada and bob (every symbol equally likely; its word tree,
    from `TWEETS`, shapes the text), as `Registry.save_version` writes one."""
    artifact.write(folder, uniform_arrays(), None, VOCAB, ["ada", "bob"], CONFIG, TWEETS)
