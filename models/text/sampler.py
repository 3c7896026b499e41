"""Fast tweet sampling: the GRU step in NumPy with the trained weights, many candidates at once.

Loads from the artifact alone (`weights.npz`, `vocab.json`, `config.json`) and never imports
TensorFlow, so the bot answers `/tweet` without paying TensorFlow's import or its per-call
overhead. The step follows Keras 3's GRU exactly (reset_after=True, gate order z, r, h).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelError
from models.text.config import TextConfig
from models.text.vocab import BOS, EOS, PAD, UNK, Vocab

MAX_CHARS = 280


@dataclass(frozen=True)
class Sample:
    """A generated tweet and its mean log-likelihood per symbol (characters and the end)."""

    text: str
    mean_logprob: float
    ended: bool  # the model chose to end it (False: cut at the character limit)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # stable for large |x|


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _logprob(logits: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """log softmax(logits)[row, chosen[row]] for every row."""
    top = logits.max(axis=1)
    picked = logits[np.arange(len(chosen)), chosen]
    return picked - top - np.log(np.exp(logits - top[:, None]).sum(axis=1))


class Sampler:
    """Generates tweets from a version's weights; `personas` names the persona embedding rows."""

    def __init__(
        self, arrays: dict[str, np.ndarray], vocab: Vocab, personas: list[str], config: TextConfig
    ) -> None:
        self.vocab, self.personas, self.config = vocab, list(personas), config
        e = config.embed_dim
        kernel0 = arrays["gru_0/kernel"]  # (embed + persona, 3 units)
        bias0 = arrays["gru_0/bias"]  # (2, 3 units): input bias, recurrent bias
        units = config.units
        # Embedding lookups followed by the input kernel are precomputed into per-id tables. The
        # z and r parts of the recurrent bias are added to the input side (they are only summed);
        # the h part stays inside, where Keras multiplies it by the reset gate.
        self.char_in = arrays["char_embedding"] @ kernel0[:e] + bias0[0]  # (vocab, 3 units)
        self.char_in[:, : 2 * units] += bias0[1, : 2 * units]
        self.persona_in = arrays["persona_embedding"] @ kernel0[e:]  # (personas, 3 units)
        self.layers = []
        for i in range(config.layers):
            bias = arrays[f"gru_{i}/bias"]
            in_bias = bias[0] + np.concatenate([bias[1, : 2 * units], np.zeros(units, np.float32)])
            self.layers.append(
                (arrays[f"gru_{i}/kernel"], in_bias, arrays[f"gru_{i}/recurrent_kernel"],
                 bias[1, 2 * units :])
            )
        self.out_w, self.out_b = arrays["logits/kernel"], arrays["logits/bias"]
        self.never = np.zeros(len(vocab), np.float32)  # added to scores: symbols never written
        self.never[[PAD, UNK, BOS]] = -np.inf
        self.never_or_end = self.never.copy()  # ... and the end, before the first character
        self.never_or_end[EOS] = -np.inf

    @classmethod
    def load(cls, folder: Path) -> Sampler:
        """The sampler of an artifact folder written by training."""
        try:
            meta = json.loads((folder / "config.json").read_text())
            vocab = Vocab.from_json(json.loads((folder / "vocab.json").read_text()))
            with np.load(folder / "weights.npz") as data:
                arrays = {k: data[k].astype(np.float32) for k in data.files}
        except (OSError, KeyError, ValueError) as error:
            raise ModelError(f"{folder}: not a readable text model artifact ({error})") from None
        return cls(arrays, vocab, meta["personas"], TextConfig.from_dict(meta["model"]))

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

    def step(self, ids: np.ndarray, persona: np.ndarray, h: list[np.ndarray]) -> np.ndarray:
        """Advance every row one character; updates `h` in place, returns logits (rows, vocab)."""
        x_proj = self.char_in[ids] + persona  # (rows, 3 units)
        u = self.config.units
        for i, (kernel, in_bias, recurrent, h_bias) in enumerate(self.layers):
            if i:
                x_proj = h[i - 1] @ kernel + in_bias
            h_proj = h[i] @ recurrent  # (rows, 3 units)
            zr = _sigmoid(x_proj[:, : 2 * u] + h_proj[:, : 2 * u])  # update and reset gates
            candidate = np.tanh(x_proj[:, 2 * u :] + zr[:, u:] * (h_proj[:, 2 * u :] + h_bias))
            h[i] = candidate + zr[:, :u] * (h[i] - candidate)  # z * h + (1 - z) * candidate
        return h[-1] @ self.out_w + self.out_b

    def generate(
        self,
        persona: str,
        n: int = 1,
        *,
        prompt: str = "",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        blend: str | None = None,
        mix: float = 0.5,
        max_chars: int = MAX_CHARS,
        stop_at_end: bool = True,
        seed: int | None = None,
    ) -> list[Sample]:
        """`n` tweets sampled together, each starting with `prompt` (unknown characters in it
        are read as the unknown symbol and kept as typed) and at most `max_chars` long."""
        if temperature <= 0 or not 0 < top_p <= 1 or top_k < 0:
            raise ModelError("need temperature > 0, 0 < top-p <= 1 and top-k >= 0")
        if len(prompt) >= max_chars:
            raise ModelError(f"prompt is {len(prompt)} characters; the limit is {max_chars}")
        rng = np.random.default_rng(seed)
        persona_vec = self.persona_input(persona, blend, mix)
        h = [np.zeros((n, self.config.units), np.float32) for _ in self.layers]
        logits = None
        for symbol in [BOS, *self.vocab.encode(prompt)]:
            logits = self.step(np.full(n, symbol), persona_vec, h)
        out = np.zeros((n, max_chars - len(prompt)), dtype=np.int64)
        total = np.zeros(n)
        length = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        for t in range(out.shape[1]):
            assert logits is not None
            allow_end = bool(t or prompt)  # never an empty tweet
            chosen = self._choose(logits, temperature, top_k, top_p, rng, allow_end)
            logprob = _logprob(logits, chosen)
            live = ~done
            total[live] += logprob[live]
            length[live] += 1
            out[:, t] = np.where(live, chosen, PAD)
            if stop_at_end:
                done |= chosen == EOS
                if done.all():
                    break
            logits = self.step(chosen, persona_vec, h)
        return [
            Sample(
                prompt + self.vocab.decode(row[row != EOS]),
                float(total[i] / max(length[i], 1)),
                bool((row == EOS).any()),
            )
            for i, row in enumerate(out)
        ]

    def _choose(
        self, logits: np.ndarray, temperature: float, top_k: int, top_p: float,
        rng: np.random.Generator, allow_end: bool,
    ) -> np.ndarray:
        scores = logits * (1.0 / temperature) + (self.never if allow_end else self.never_or_end)
        if 0 < top_k < scores.shape[1]:
            kth = np.partition(scores, -top_k, axis=1)[:, -top_k, None]
            scores[scores < kth] = -np.inf
        if top_p < 1.0:
            order = np.argsort(-scores, axis=1)
            probs = np.exp(_log_softmax(np.take_along_axis(scores, order, 1)))
            # Keep the smallest prefix whose mass reaches top_p (always the first symbol).
            drop = np.cumsum(probs, axis=1) - probs >= top_p
            mask = np.empty_like(scores)
            np.put_along_axis(mask, order, np.where(drop, -np.inf, 0.0), axis=1)
            scores = scores + mask
        # Inverse-CDF sampling: one exponential and one cumulative sum per row.
        cumulative = np.cumsum(np.exp(scores - scores.max(axis=1, keepdims=True)), axis=1)
        draw = rng.random(len(scores))[:, None] * cumulative[:, -1:]
        return np.minimum((cumulative < draw).sum(axis=1), scores.shape[1] - 1)
