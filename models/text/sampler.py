"""The network's step for many rows at once: the GRU step in NumPy with the trained weights,
mixed with the n-gram's distribution.

Loads from the artifact alone (`weights.npz`, `vocab.json`, `config.json`, `ngram.npz`,
`lexicon.npz`) and never imports TensorFlow, so the bot answers `/tweet` without paying
TensorFlow's import or its per-call overhead. The GRU step is the one CPU training runs
(`models/text/gru_step.py`). The sampling loop that steps it is `models/text/batch.py`; what
writes tweets with it is `models/text/writing.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelError
from models.text.config import TextConfig
from models.text.lexicon import Lexicon
from models.text.ngram import NGram, NGramState
from models.text.products import Product
from models.text.vocab import BOS, EOS, PAD, UNK, Vocab

MAX_CHARS = 280
NGRAM_FILE = "ngram.npz"
LEXICON_FILE = "lexicon.npz"


@dataclass(frozen=True)
class Sample:
    """A generated tweet and its mean log-likelihood per symbol (characters and the end)."""

    text: str
    mean_logprob: float
    ended: bool  # the model chose to end it (False: cut at the character limit)


@dataclass
class GRUState:
    """Rows' hidden states per layer, and the top layer's recurrent product h @ U for the next
    step (computed in the same matrix product as the logits)."""

    h: list[np.ndarray]
    top_recurrent: np.ndarray

    def keep(self, rows: np.ndarray) -> None:
        """Drop the rows where `rows` is False (candidates that have ended)."""
        self.h = [h[rows] for h in self.h]
        self.top_recurrent = self.top_recurrent[rows]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Sampler:
    """Generates tweets from a version's weights; `personas` names the persona embedding rows."""

    def __init__(
        self, arrays: dict[str, np.ndarray], vocab: Vocab, personas: list[str], config: TextConfig,
        ngram: NGram | None = None, lexicon: Lexicon | None = None,
    ) -> None:
        from models.text.gru_step import step  # Numba: loaded with the first sampler

        self.vocab, self.personas, self.config, self.ngram = vocab, list(personas), config, ngram
        self.lexicon = lexicon
        self._gru_step = step
        e = config.embed_dim
        kernel0 = arrays["gru_0/kernel"]  # (embed + persona, 3 units)
        bias0 = arrays["gru_0/bias"]  # (2, 3 units): input bias, recurrent bias
        # Embedding lookups followed by the input kernel are precomputed into per-id tables.
        self.char_in = arrays["char_embedding"] @ kernel0[:e] + bias0[0]  # (vocab, 3 units)
        self.persona_in = arrays["persona_embedding"] @ kernel0[e:]  # (personas, 3 units)
        self.layers = [
            (arrays[f"gru_{i}/kernel"], arrays[f"gru_{i}/bias"][0],
             arrays[f"gru_{i}/recurrent_kernel"], arrays[f"gru_{i}/bias"][1])
            for i in range(config.layers)
        ]
        self.out_b = arrays["logits/bias"]
        # The output kernel and the top layer's recurrent kernel side by side: both multiply
        # the top layer's new state, so one matrix product per step serves both (on bfloat16
        # hardware when `head.accelerate()` measured it faster: models/text/products.py).
        self.head = Product(np.concatenate([arrays["logits/kernel"], self.layers[-1][2]], axis=1))
        self.writable = np.ones(len(vocab), np.float32)  # 0: never written
        self.writable[[PAD, UNK, BOS]] = 0.0
        self.writable_not_end = self.writable.copy()  # ... and the end, before any character
        self.writable_not_end[EOS] = 0.0
        self.at_sign = np.asarray([i for i in vocab.encode("@") if i != UNK], np.int64)

    @classmethod
    def load(cls, folder: Path) -> Sampler:
        """The sampler of an artifact folder written by training."""
        try:
            meta = json.loads((folder / "config.json").read_text())
            vocab = Vocab.from_json(json.loads((folder / "vocab.json").read_text()))
            with np.load(folder / "weights.npz") as data:
                arrays = {k: data[k].astype(np.float32) for k in data.files}
            # Older versions have no n-gram (the GRU speaks alone) or no word tree (unchecked).
            ngram = NGram.load(folder / NGRAM_FILE) if (folder / NGRAM_FILE).exists() else None
            lexicon = (
                Lexicon.load(folder / LEXICON_FILE) if (folder / LEXICON_FILE).exists() else None
            )
        except (OSError, KeyError, ValueError) as error:
            raise ModelError(f"{folder}: not a readable text model artifact ({error})") from None
        config = TextConfig.from_dict(meta["model"])
        return cls(arrays, vocab, meta["personas"], config, ngram, lexicon)

    def persona_input(self, persona: str, blend: str | None = None, mix: float = 0.5) -> np.ndarray:
        """The persona's contribution to the first GRU input, optionally mixed with another's
        (`mix` 0 is `persona`, 1 is `blend`); linear, so this interpolates the embeddings."""
        vector = self.persona_in[self._persona_id(persona)]
        if blend is not None:
            if not 0.0 <= mix <= 1.0:
                raise ModelError(f"--mix must be between 0 and 1, got {mix}")
            vector = (1.0 - mix) * vector + mix * self.persona_in[self._persona_id(blend)]
        return vector

    def _persona_id(self, name: str) -> int:
        if name not in self.personas:
            known = ", ".join(self.personas)
            raise ModelError(f"persona '{name}' is not in this model (it knows: {known})")
        return self.personas.index(name)

    def start(self, rows: int) -> GRUState:
        """The state of `rows` tweets before their first symbol (zeros, as Keras starts)."""
        h = [np.zeros((rows, self.config.units), np.float32) for _ in self.layers]
        return GRUState(h, np.zeros((rows, 3 * self.config.units), np.float32))

    def step(self, ids: np.ndarray, persona: np.ndarray, state: GRUState) -> np.ndarray:
        """Advance every row one character; updates `state`, returns logits (rows, vocab)."""
        x_proj = self.char_in[ids] + persona  # (rows, 3 units)
        top, h = len(self.layers) - 1, state.h
        scratch = np.empty((4, *h[0].shape), np.float32)  # gate values training keeps; unused
        for i, (kernel, in_bias, recurrent, h_bias) in enumerate(self.layers):
            if i:
                x_proj = h[i - 1] @ kernel + in_bias
            h_proj = state.top_recurrent if i == top else h[i] @ recurrent  # (rows, 3 units)
            # A new array, not h[i] in place: the compiled step vectorises only when its
            # output does not overlap its inputs (in place, its gates at 16 rows took 6x as long).
            h_new = np.empty_like(h[i])
            self._gru_step(x_proj, h_proj, h_bias, h[i], *scratch, h_new)
            h[i] = h_new
        both = self.head(h[top])  # (rows, vocab + 3 units)
        vocab = len(self.out_b)
        state.top_recurrent = np.ascontiguousarray(both[:, vocab:])
        return both[:, :vocab] + self.out_b

    def next_probs(self, logits: np.ndarray, counts: NGramState | None) -> np.ndarray:
        """The model's next-symbol probabilities: the GRU's, mixed with the n-gram's."""
        probs = _softmax(logits)
        return probs if counts is None else counts.mix(probs)
